import { describe, it } from 'node:test';
import { plan } from '../src/generator/index.ts';
import { audienceSelect, membershipSql } from '../src/generator/sql/audience.ts';
import type { TransportName } from '../src/index.ts';
import { validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';
import { golden } from './support/golden.ts';
import { makeProject } from './support/project.ts';

const config = validateConfig(shop);
const aud = (name: string) => config.audiences.find((a) => a.name === name)!;
const FAKE_CORE = { version: '0.0.0-test', sql: '-- (core SQL)\n', hash: 'test-core-hash' };

describe('compiled audience SQL (one golden file per format)', () => {
  const cases: [string, string, TransportName][] = [
    ['1-column', 'buyer', 'in_app'],
    ['2-filter', 'admin', 'in_app'],
    ['3-chain', 'seller', 'in_app'],
    ['4-filter-from-row', 'regionalAdmin', 'email'],
    ['5-function', 'onDuty', 'in_app'],
    ['6-system-webhook', 'ops', 'webhook'],
    ['6-system-slack', 'ops', 'slack'],
    ['6-system-email', 'ops', 'email'],
  ];
  for (const [file, name, transport] of cases) {
    it(`${file}: ${name} via ${transport}`, () => {
      golden(`audience-${file}.sql`, `${audienceSelect(aud(name), transport)}\n`);
    });
  }
  it('membership of row-independent audiences (topics, admin)', () => {
    const lines = config.audiences.map(
      (a) => `${a.name}: ${membershipSql(a, 'p_user_id') ?? '(needs a row)'}`,
    );
    golden('audience-membership.txt', `${lines.join('\n')}\n`);
  });
});

describe('generated files of the shop config', async () => {
  const root = makeProject();
  const p = await plan(config, {
    root,
    configDir: root,
    core: FAKE_CORE,
    now: () => new Date('2026-11-25T12:00:00Z'),
  });
  it('migration', () => golden('shop.migration.sql', p.migration!.content));
  it('client SDK', () => golden('shop.client.ts.txt', p.files[0].content));
  it('functions registry', () => golden('shop.registry.ts.txt', p.files[1].content));
  it('lock file', () => golden('shop.lock.json', p.files[2].content));
});
