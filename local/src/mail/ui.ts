import { escapeHtml } from '../html.ts';
import type { MailMessage } from './store.ts';

/**
 * The mail catcher's web page, rendered on the server with no script at all. Message content is
 * attacker-controlled: every value is HTML-escaped, and the HTML body is shown only inside an
 * `<iframe sandbox srcdoc>` (no scripts, no forms, no same-origin access, no top navigation),
 * under a Content-Security-Policy that forbids scripts on the page itself.
 */

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data: http: https:',
  "frame-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1c1c1c;background:#fafafa}
header{padding:10px 16px;background:#1c1c1c;color:#fff;display:flex;gap:16px;align-items:baseline}
header a{color:#3ecf8e}
main{display:grid;grid-template-columns:minmax(280px,34%) 1fr;height:calc(100vh - 42px)}
ul{list-style:none;margin:0;padding:0;overflow:auto;border-right:1px solid #ddd;background:#fff}
li a{display:block;padding:8px 12px;border-bottom:1px solid #eee;color:inherit;text-decoration:none}
li a:hover,li a.current{background:#e9f9f1}
.meta{color:#666;font-size:12px}
section{overflow:auto;padding:12px 16px}
table{border-collapse:collapse;margin-bottom:12px}
th{text-align:left;padding:2px 12px 2px 0;color:#666;font-weight:normal;vertical-align:top}
td{padding:2px 0;word-break:break-all}
iframe{width:100%;height:60vh;border:1px solid #ddd;background:#fff}
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #ddd;padding:8px}
details{margin-top:12px}
.empty{padding:16px;color:#666}
`;

/** `messages` oldest first (as stored); the page lists newest first. */
export function renderPage(
  messages: MailMessage[],
  selected: MailMessage | null,
  filterTo: string | null,
): string {
  const e = escapeHtml;
  const query = (id: string) => {
    const params = new URLSearchParams({ id });
    if (filterTo) params.set('to', filterTo);
    return `/?${params.toString()}`;
  };
  const items = [...messages]
    .reverse()
    .map(
      (m) =>
        `<li><a href="${e(query(m.id))}"${selected?.id === m.id ? ' class="current"' : ''}>` +
        `<strong>${e(m.subject || '(no subject)')}</strong><br>` +
        `<span class="meta">${e(m.to.join(', '))} · ${e(m.via)} · ${e(m.receivedAt)}</span></a></li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>supadispatch mail (${messages.length})</title><style>${STYLE}</style></head>
<body><header><strong>supadispatch mail catcher</strong>
<span>${messages.length} message${messages.length === 1 ? '' : 's'}${filterTo ? ` to ${e(filterTo)}` : ''}</span>
<a href="/">refresh</a><a href="/api/messages">JSON</a></header>
<main><ul>${items || '<li class="empty">No mail yet.</li>'}</ul>
<section>${selected ? renderMessage(selected) : '<p class="empty">Select a message.</p>'}</section></main>
</body></html>`;
}

function renderMessage(m: MailMessage): string {
  const e = escapeHtml;
  const row = (label: string, value: string) =>
    value ? `<tr><th>${e(label)}</th><td>${e(value)}</td></tr>` : '';
  const headers = Object.entries(m.headers)
    .map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`)
    .join('');
  return `<h2>${e(m.subject || '(no subject)')}</h2>
<table>${row('From', m.from)}${row('To', m.to.join(', '))}${row('Cc', m.cc.join(', '))}${row('Bcc', m.bcc.join(', '))}
${row('Reply-To', m.replyTo.join(', '))}${row('Received', `${m.receivedAt} via ${m.via}`)}${row('Id', m.id)}
${row('Idempotency-Key', m.idempotencyKey ?? '')}${row('Tags', m.tags.map((t) => `${t.name}=${t.value}`).join(', '))}
${row('Attachments', m.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.size} bytes)`).join(', '))}</table>
${m.html !== null ? `<iframe sandbox="" referrerpolicy="no-referrer" title="HTML body" srcdoc="${e(m.html)}"></iframe>` : ''}
${m.text !== null ? `<details${m.html === null ? ' open' : ''}><summary>Text</summary><pre>${e(m.text)}</pre></details>` : ''}
<details><summary>Headers</summary><table>${headers}</table></details>`;
}
