import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerCheck } from '../src/cli/doctor/worker.ts';

const url = 'https://ref.supabase.co/functions/v1/dispatch-worker';

describe('doctor: the function secrets the worker lacks', () => {
  it('a probe answer naming missing secrets fails the check and says what to set', () => {
    const check = workerCheck(url, {
      status: 200,
      body: '{"probe":true,"events":3,"missingEnv":["RESEND_API_KEY","DISPATCH_WEBHOOK_SECRET"]}',
    });
    assert.equal(check.ok, false);
    assert.match(check.detail ?? '', /lacks RESEND_API_KEY, DISPATCH_WEBHOOK_SECRET/);
    assert.match(
      check.fix ?? '',
      /supabase secrets set RESEND_API_KEY=<value> DISPATCH_WEBHOOK_SECRET=<value>/,
    );
  });

  it('nothing missing, an older worker without the field, or a body that is not JSON: passes', () => {
    for (const body of ['{"probe":true,"events":1,"missingEnv":[]}', '{"probe":true}', 'ok', undefined]) {
      assert.equal(workerCheck(url, { status: 200, body }).ok, true, String(body));
    }
  });

  it('names that are not variable names are not echoed', () => {
    const check = workerCheck(url, { status: 200, body: '{"missingEnv":["$(rm -rf /)","GOOD_NAME"]}' });
    assert.match(check.detail ?? '', /lacks GOOD_NAME$/);
  });
});
