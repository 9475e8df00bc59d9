// Slack and Discord incoming webhooks, and Twilio SMS, against a local server.
import assert from 'node:assert/strict';
import { discord } from '../../src/transports/discord.ts';
import { transports } from '../../src/transports/index.ts';
import { slack } from '../../src/transports/slack.ts';
import { sms } from '../../src/transports/sms.ts';
import { context, delivery, startServer } from './support.ts';

const content = {
  title: 'Order #7 shipped',
  message: 'On its way <3 & more',
  actionUrl: 'https://shop.example/orders/7',
  actionLabel: 'Track',
};

Deno.test('the transports by name', () => {
  assert.deepEqual(Object.keys(transports).sort(), ['discord', 'email', 'slack', 'sms', 'webhook']);
  for (const [name, transport] of Object.entries(transports)) assert.equal(transport.name, name);
});

Deno.test('slack: { text, blocks } to the URL from secret:<NAME>', async () => {
  const server = startServer();
  try {
    server.answers.push(() => new Response('ok'));
    const ctx = context(server, {}, { SLACK_OPS_URL: `${server.url}/services/T/B/x` });
    const d = delivery({
      transport: 'slack',
      recipient: { userId: null, address: 'secret:SLACK_OPS_URL' },
      content,
    });
    const outcome = await slack.send(d, ctx);
    assert.equal(outcome.status, 'sent');
    const [request] = server.requests;
    assert.equal(request.path, '/services/T/B/x');
    assert.equal(request.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(request.body), {
      text: '*Order #7 shipped*\nOn its way &lt;3 &amp; more\n<https://shop.example/orders/7|Track>',
      blocks: [
        {
          type: 'section',
          text: { type: 'mrkdwn', text: '*Order #7 shipped*\nOn its way &lt;3 &amp; more' },
        },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Track' },
              url: 'https://shop.example/orders/7',
            },
          ],
        },
      ],
    });
    assert.equal(slack.destination(d, ctx), `slack:${server.url}`, 'the origin, never the secret path');
  } finally {
    await server.close();
  }
});

Deno.test('slack: defaultUrlSecret when the receipt has no address; an object payload is the message', async () => {
  const server = startServer();
  try {
    const ctx = context(server, { defaultUrlSecret: 'SLACK_URL' }, { SLACK_URL: `${server.url}/default` });
    const own = { text: 'raw', blocks: [{ type: 'divider' }] };
    await slack.send(
      delivery({ recipient: { userId: null, address: null }, content: { payload: own } }),
      ctx,
    );
    await slack.send(
      delivery({
        recipient: { userId: null, address: null },
        content: { message: 'relative', actionUrl: '/x', test: true },
      }),
      ctx,
    );
    const [first, second] = server.requests;
    assert.equal(first.path, '/default');
    assert.deepEqual(JSON.parse(first.body), own);
    assert.deepEqual(JSON.parse(second.body), {
      text: '[Test]\nrelative',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '[Test]\nrelative' } }],
    });
    const none = await slack.send(delivery({ content: { title: 't' } }), context(server));
    assert.equal(none.status === 'failed' && none.error, 'slack: "buyer@shop.example" is not a URL');
  } finally {
    await server.close();
  }
});

Deno.test('discord: { content, embeds } with ?wait=true, mentions never pinged, the message id kept', async () => {
  const server = startServer();
  try {
    server.answers.push(() => Response.json({ id: '1234567890', content: '...' }));
    const ctx = context(server, {}, { DISCORD_URL: `${server.url}/api/webhooks/1/tok` });
    const outcome = await discord.send(
      delivery({ transport: 'discord', recipient: { userId: null, address: 'secret:DISCORD_URL' }, content }),
      ctx,
    );
    assert.equal(outcome.status === 'sent' && outcome.providerMessageId, '1234567890');
    const [request] = server.requests;
    assert.equal(`${request.path}${request.search}`, '/api/webhooks/1/tok?wait=true');
    assert.deepEqual(JSON.parse(request.body), {
      content: '**Order #7 shipped**\nOn its way <3 & more',
      embeds: [{ title: 'Track', url: 'https://shop.example/orders/7' }],
      allowed_mentions: { parse: [] },
    });
  } finally {
    await server.close();
  }
});

Deno.test('discord: rate limits retry after the header; an empty message fails', async () => {
  const server = startServer();
  try {
    server.answers.push(() =>
      Response.json(
        { message: 'You are being rate limited.', retry_after: 1.5 },
        { status: 429, headers: { 'retry-after': '2' } },
      ),
    );
    const ctx = context(server);
    const d = delivery({
      recipient: { userId: null, address: `${server.url}/h` },
      content: { message: 'hi' },
    });
    const limited = await discord.send(d, ctx);
    assert.equal(limited.status === 'retry' && limited.retryAfterMs, 2000);
    const empty = await discord.send({ ...d, content: {} }, ctx);
    assert.match(empty.status === 'failed' ? empty.error : '', /no title, message or payload/);
  } finally {
    await server.close();
  }
});

Deno.test('sms: Twilio’s form-encoded Messages API with basic auth; the sid is the message id', async () => {
  const server = startServer();
  try {
    server.answers.push(() => Response.json({ sid: 'SM123', status: 'queued' }, { status: 201 }));
    const ctx = context(
      server,
      { provider: 'twilio', from: '+15550001111' },
      { TWILIO_ACCOUNT_SID: 'AC42', TWILIO_AUTH_TOKEN: 'tok', TWILIO_API_URL: server.url },
    );
    const d = delivery({ transport: 'sms', recipient: { userId: 'u', address: '+15552223333' }, content });
    const outcome = await sms.send(d, ctx);
    assert.deepEqual(outcome.status === 'sent' && [outcome.httpStatus, outcome.providerMessageId], [
      201,
      'SM123',
    ]);
    const [request] = server.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/2010-04-01/Accounts/AC42/Messages.json');
    assert.equal(request.headers.get('authorization'), `Basic ${btoa('AC42:tok')}`);
    assert.equal(request.headers.get('content-type'), 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(request.body)), {
      To: '+15552223333',
      From: '+15550001111',
      Body: 'Order #7 shipped\nOn its way <3 & more\nhttps://shop.example/orders/7',
    });
    assert.equal(sms.destination(d, ctx), 'sms:twilio');
  } finally {
    await server.close();
  }
});

Deno.test('sms: a messaging service as sender, text over the message fields; missing secrets fail', async () => {
  const server = startServer();
  try {
    const service = 'MG0123456789abcdef0123456789abcdef';
    const ctx = context(
      server,
      { from: service, apiKeySecret: 'TWILIO' },
      { TWILIO: 'AC1:t', TWILIO_API_URL: server.url },
    );
    await sms.send(
      delivery({ recipient: { userId: null, address: '+1555' }, content: { text: 'Code 1234', test: true } }),
      ctx,
    );
    assert.deepEqual(Object.fromEntries(new URLSearchParams(server.requests[0].body)), {
      To: '+1555',
      MessagingServiceSid: service,
      Body: '[Test] Code 1234',
    });
    assert.equal(server.requests[0].path, '/2010-04-01/Accounts/AC1/Messages.json');
    assert.equal(server.requests[0].headers.get('authorization'), `Basic ${btoa('AC1:t')}`);
    const noToken = await sms.send(
      delivery(),
      context(server, { from: '+1' }, { TWILIO_API_URL: server.url }),
    );
    assert.match(noToken.status === 'failed' ? noToken.error : '', /secret TWILIO_AUTH_TOKEN is not set/);
    const noSid = await sms.send(
      delivery(),
      context(server, { from: '+1' }, { TWILIO_AUTH_TOKEN: 't', TWILIO_API_URL: server.url }),
    );
    assert.match(noSid.status === 'failed' ? noSid.error : '', /secret TWILIO_ACCOUNT_SID is not set/);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});
