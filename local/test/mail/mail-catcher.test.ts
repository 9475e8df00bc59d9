import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { createMailCatcher, type MailCatcher, type MailMessage } from '../../src/mail/index.ts';
import { minimalContext } from '../support/minimal-context.ts';
import { requestWithHost } from '../support/raw-request.ts';

let mail: MailCatcher;

before(async () => {
  mail = createMailCatcher();
  await mail.start(minimalContext());
});

after(async () => {
  await mail.stop();
});

beforeEach(async () => {
  await fetch(`${mail.url}/api/messages`, { method: 'DELETE' });
});

const resend = (body: unknown, headers: Record<string, string> = {}, path = '/emails') =>
  fetch(`${mail.url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer re_local_test', 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const list = async (query = ''): Promise<MailMessage[]> =>
  (await (await fetch(`${mail.url}/api/messages${query}`)).json()) as MailMessage[];

const valid = {
  from: 'Acme <no-reply@acme.test>',
  to: 'ada@example.test',
  subject: 'Your order shipped',
  html: '<p>Shipped!</p>',
  text: 'Shipped!',
};

describe('mail catcher', () => {
  test('refuses a Host that is not loopback (DNS rebinding), accepts localhost and 127.0.0.1', async () => {
    for (const host of ['attacker.example', `attacker.example:${mail.port}`, '127.0.0.1.attacker.example']) {
      assert.equal((await requestWithHost(`${mail.url}/api/messages`, host)).status, 403, host);
      assert.equal((await requestWithHost(`${mail.url}/`, host)).status, 403, host);
    }
    for (const host of [`localhost:${mail.port}`, `127.0.0.1:${mail.port}`, `[::1]:${mail.port}`]) {
      assert.equal((await requestWithHost(`${mail.url}/api/messages`, host)).status, 200, host);
    }
  });

  test('binds the ports it is given (0 = any free port) and exposes them', () => {
    assert.ok(mail.port > 0);
    assert.ok(mail.smtpPort > 0);
    assert.notEqual(mail.port, mail.smtpPort);
    assert.equal(mail.url, `http://127.0.0.1:${mail.port}`);
  });

  test('SMTP: a message sent with nodemailer is parsed and listed', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.smtpPort, secure: false });
    try {
      const info = await transport.sendMail({
        from: '"Supabase Auth" <auth@local.test>',
        to: 'Grace <grace@example.test>',
        cc: 'cc@example.test',
        bcc: 'hidden@example.test',
        subject: 'Confirm your signup',
        text: 'Follow this link',
        html: '<a href="http://x.test/confirm">Confirm</a>',
        headers: { 'X-Trace': 'abc' },
      });
      assert.deepEqual(info.rejected, []);
    } finally {
      transport.close();
    }
    const [message] = await list();
    assert.equal(message.via, 'smtp');
    assert.equal(message.from, '"Supabase Auth" <auth@local.test>');
    assert.deepEqual(message.to, ['Grace <grace@example.test>']);
    assert.deepEqual(message.cc, ['cc@example.test']);
    assert.deepEqual(message.bcc, ['hidden@example.test']);
    assert.equal(message.subject, 'Confirm your signup');
    assert.equal(message.text?.trim(), 'Follow this link');
    assert.equal(message.html, '<a href="http://x.test/confirm">Confirm</a>');
    assert.equal(message.headers['x-trace'], 'abc');
    assert.equal(message.idempotencyKey, null);
    assert.ok(!Number.isNaN(Date.parse(message.receivedAt)));
    assert.deepEqual(message.envelope?.to.sort(), [
      'cc@example.test',
      'grace@example.test',
      'hidden@example.test',
    ]);
    // The ?to= filter matches any recipient by bare address, case-insensitively.
    assert.equal((await list('?to=GRACE@example.test')).length, 1);
    assert.equal((await list('?to=hidden@example.test')).length, 1);
    assert.equal((await list('?to=nobody@example.test')).length, 0);
  });

  test('Resend API: POST /emails answers {id} and the message is listed', async () => {
    const response = await resend({
      ...valid,
      cc: ['c1@example.test'],
      reply_to: 'support@acme.test',
      headers: { 'X-Entity-Ref-ID': '123' },
      tags: [{ name: 'category', value: 'order_shipped' }],
    });
    assert.equal(response.status, 200);
    const { id } = (await response.json()) as { id: string };
    assert.match(id, /^[0-9a-f-]{36}$/);
    const messages = await list('?to=ada@example.test');
    assert.equal(messages.length, 1);
    const [message] = messages;
    assert.equal(message.id, id);
    assert.equal(message.via, 'api');
    assert.deepEqual(message.to, ['ada@example.test']);
    assert.deepEqual(message.cc, ['c1@example.test']);
    assert.deepEqual(message.replyTo, ['support@acme.test']);
    assert.equal(message.subject, 'Your order shipped');
    assert.equal(message.html, '<p>Shipped!</p>');
    assert.equal(message.text, 'Shipped!');
    assert.equal(message.headers['x-entity-ref-id'], '123');
    assert.deepEqual(message.tags, [{ name: 'category', value: 'order_shipped' }]);

    const one = await fetch(`${mail.url}/api/messages/${id}`);
    assert.equal(((await one.json()) as MailMessage).subject, 'Your order shipped');
  });

  test('Resend API: POST /emails/batch answers {data:[{id}...]}, one message each', async () => {
    const response = await resend(
      [valid, { ...valid, to: ['b@example.test', 'c@example.test'] }],
      {},
      '/emails/batch',
    );
    assert.equal(response.status, 200);
    const { data } = (await response.json()) as { data: { id: string }[] };
    assert.equal(data.length, 2);
    assert.deepEqual(
      (await list()).map((m) => m.id),
      data.map((d) => d.id),
    );

    const bad = await resend([valid, { ...valid, to: 'not-an-address' }], {}, '/emails/batch');
    assert.equal(bad.status, 422);
    const error = (await bad.json()) as { name: string; message: string };
    assert.equal(error.name, 'validation_error');
    assert.match(error.message, /emails\[1\].*`to`/);
    assert.equal((await list()).length, 2, 'a rejected batch stores nothing');
  });

  test('Idempotency-Key: same key and body twice → same id, one message; other body → 409', async () => {
    const key = `order-shipped/${Date.now()}`;
    const first = await resend(valid, { 'idempotency-key': key });
    const second = await resend({ ...valid }, { 'Idempotency-Key': key });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const a = (await first.json()) as { id: string };
    const b = (await second.json()) as { id: string };
    assert.equal(a.id, b.id);
    const messages = await list();
    assert.equal(messages.length, 1);
    assert.equal(messages[0].idempotencyKey, key);

    const conflict = await resend({ ...valid, subject: 'Different' }, { 'idempotency-key': key });
    assert.equal(conflict.status, 409);
    assert.deepEqual(await conflict.json(), {
      statusCode: 409,
      name: 'invalid_idempotent_request',
      message: 'Same idempotency key used with a different request payload.',
    });

    const tooLong = await resend(valid, { 'idempotency-key': 'k'.repeat(257) });
    assert.equal(tooLong.status, 400);
    assert.equal(((await tooLong.json()) as { name: string }).name, 'invalid_idempotency_key');
    assert.equal((await list()).length, 1);
  });

  test('validation errors are Resend-style 422 naming the field', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ ...valid, to: undefined }, 'missing_required_field', /`to`/],
      [{ ...valid, from: undefined }, 'missing_required_field', /`from`/],
      [{ ...valid, subject: undefined }, 'missing_required_field', /`subject`/],
      [{ ...valid, html: undefined, text: undefined }, 'missing_required_field', /`html` or `text`/],
      [{ ...valid, from: 'no at sign' }, 'validation_error', /`from`/],
      [{ ...valid, to: ['ok@example.test', 'broken'] }, 'validation_error', /`to`/],
      [
        { ...valid, to: Array.from({ length: 51 }, (_, i) => `u${i}@example.test`) },
        'validation_error',
        /`to`/,
      ],
      [{ ...valid, cc: 42 }, 'validation_error', /`cc`/],
      [{ ...valid, tags: [{ name: 'has space', value: 'x' }] }, 'validation_error', /`tags`/],
      [{ ...valid, headers: { 'X-A': 1 } }, 'validation_error', /`headers`/],
      ['{not json', 'validation_error', /JSON/],
    ];
    for (const [body, name, message] of cases) {
      const response = await resend(body);
      assert.equal(response.status, 422, JSON.stringify(body));
      const error = (await response.json()) as { statusCode: number; name: string; message: string };
      assert.equal(error.statusCode, 422);
      assert.equal(error.name, name, JSON.stringify(body));
      assert.match(error.message, message);
    }
    assert.equal((await list()).length, 0);
  });

  test('an API key is required (Authorization: Bearer <any non-empty key>)', async () => {
    for (const authorization of [undefined, '', 'Bearer ', 'Basic abc']) {
      const response = await fetch(`${mail.url}/emails`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: JSON.stringify(valid),
      });
      assert.equal(response.status, 401, String(authorization));
      const error = (await response.json()) as { statusCode: number; name: string };
      assert.equal(error.statusCode, 401);
      assert.equal(error.name, 'missing_api_key');
    }
    assert.equal((await list()).length, 0);
  });

  test('GET /api/messages?wait= long-polls until a match arrives, and times out with []', async () => {
    const waiting = list('?to=later@example.test&wait=10000');
    await resend({ ...valid, to: 'someone-else@example.test' });
    await resend({ ...valid, to: 'later@example.test', subject: 'arrived' });
    const messages = await waiting;
    assert.equal(messages.length, 1);
    assert.equal(messages[0].subject, 'arrived');

    assert.deepEqual(await list('?to=never@example.test&wait=20'), []);
  });

  test('messages are listed oldest first; delete one, delete all', async () => {
    for (const subject of ['one', 'two', 'three']) await resend({ ...valid, subject });
    const messages = await list();
    assert.deepEqual(
      messages.map((m) => m.subject),
      ['one', 'two', 'three'],
    );
    const del = await fetch(`${mail.url}/api/messages/${messages[1].id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(
      (await list()).map((m) => m.subject),
      ['one', 'three'],
    );
    assert.equal((await fetch(`${mail.url}/api/messages/${messages[1].id}`)).status, 404);
    const clear = await fetch(`${mail.url}/api/messages`, { method: 'DELETE' });
    assert.deepEqual(await clear.json(), { cleared: 2 });
    assert.deepEqual(await list(), []);
  });

  test('the web page escapes hostile content and sandboxes the HTML body', async () => {
    const hostile = `<script>alert(1)</script><img src=x onerror="alert(2)">`;
    const response = await resend({
      ...valid,
      subject: hostile,
      html: `<p>hi</p><script>parent.document.title='pwned'</script>"'`,
      text: `</pre><script>alert(3)</script>`,
      headers: { 'X-Evil': '<b onmouseover=alert(4)>' },
    });
    const { id } = (await response.json()) as { id: string };

    for (const page of [`${mail.url}/`, `${mail.url}/?id=${id}`]) {
      const res = await fetch(page);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const html = await res.text();
      assert.ok(!html.includes('<script'), 'no script element reaches the page');
      assert.ok(!html.includes('<img src=x'), 'no attacker element reaches the page');
      assert.ok(!html.includes('<b onmouseover'), 'headers are escaped');
      assert.ok(
        html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;'),
      );
    }
    const detail = await (await fetch(`${mail.url}/?id=${encodeURIComponent(id)}`)).text();
    const iframe = /<iframe([^>]*)><\/iframe>/.exec(detail);
    assert.ok(iframe, 'the HTML body is shown in an iframe');
    assert.match(iframe[1], /\ssandbox=""/);
    assert.match(
      iframe[1],
      /srcdoc="&lt;p&gt;hi&lt;\/p&gt;&lt;script&gt;parent\.document\.title=&#39;pwned&#39;&lt;\/script&gt;&quot;&#39;"/,
    );
    assert.ok(detail.includes('&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;'));
  });

  test('unknown endpoints answer 404, wrong methods on the Resend door 405', async () => {
    assert.equal((await fetch(`${mail.url}/nope`)).status, 404);
    const res = await fetch(`${mail.url}/emails`);
    assert.equal(res.status, 405);
    assert.equal(((await res.json()) as { name: string }).name, 'method_not_allowed');
  });
});

describe('mail catcher limits and lifecycle', () => {
  test('keeps only the newest maxMessages messages', async () => {
    const small = createMailCatcher({ maxMessages: 3 });
    await small.start(minimalContext());
    try {
      for (let i = 1; i <= 5; i++) {
        const res = await fetch(`${small.url}/emails`, {
          method: 'POST',
          headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
          body: JSON.stringify({ ...valid, subject: `m${i}` }),
        });
        assert.equal(res.status, 200);
      }
      assert.deepEqual(
        small.messages().map((m) => m.subject),
        ['m3', 'm4', 'm5'],
      );
    } finally {
      await small.stop();
    }
  });

  test('stop() closes both ports and releases pending long-polls', async () => {
    const temp = createMailCatcher();
    await temp.start(minimalContext());
    const { url, smtpPort } = temp;
    const pending = fetch(`${url}/api/messages?to=x@example.test&wait=30000`).then(
      (r) => r.status,
      () => 'closed',
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await temp.stop();
    assert.ok([200, 'closed'].includes(await pending));
    await assert.rejects(fetch(`${url}/api/messages`));
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: smtpPort,
      connectionTimeout: 2000,
    });
    try {
      await assert.rejects(transport.verify());
    } finally {
      transport.close();
    }
  });
});
