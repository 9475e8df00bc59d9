/** `supadispatch local …` loads `@supadispatch/local` on demand and says how to install it when missing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localCommand } from '../src/cli/local.ts';
import { LocalStackMissingError, loadLocalStack } from '../src/cli/local-stack.ts';

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /app/x.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

describe('loading the local stack package', () => {
  it('a missing package becomes the install command', async () => {
    await assert.rejects(
      loadLocalStack((specifier) => Promise.reject(notFound(specifier))),
      (error: Error) =>
        error instanceof LocalStackMissingError &&
        /npm install --save-dev @supadispatch\/local/.test(error.message),
    );
  });

  it('a package that is installed but broken keeps its own error', async () => {
    const broken = notFound('smtp-server');
    await assert.rejects(
      loadLocalStack(() => Promise.reject(broken)),
      (error) => error === broken,
    );
  });

  it('`local start` without the package exits 1 and prints the install command; usage needs no package', async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let loads = 0;
    const missing = () => {
      loads++;
      return Promise.reject(new LocalStackMissingError(notFound('@supadispatch/local')));
    };
    try {
      assert.equal(await localCommand(['start'], missing), 1);
      assert.equal(await localCommand([], missing), 0);
      assert.equal(await localCommand(['launch'], missing), 2);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(loads, 1, 'only `start` loaded the package');
    assert.match(
      written.join(''),
      /error: the local stack is not installed.*\n.*npm install --save-dev @supadispatch\/local/,
    );
    assert.match(written.join(''), /unknown command "local launch"/);
  });
});
