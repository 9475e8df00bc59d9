/**
 * A rendered notification as each channel would deliver it: the email (subject, sender, HTML in a
 * sandboxed frame with no scripts, and the text part), the in-app card, or the webhook payload.
 */
import type { ReactElement } from 'react';
import type { RenderedContent } from '../lib/admin-functions.ts';

export function Rendered({ content }: { content: RenderedContent }): ReactElement {
  const hasInApp = content.title !== undefined || content.message !== undefined;
  return (
    <div className="rendered">
      {content.subject !== undefined && (
        <dl className="facts">
          <dt>Subject</dt>
          <dd data-field="subject">{content.subject}</dd>
          {content.from && (
            <>
              <dt>From</dt>
              <dd>{content.from}</dd>
            </>
          )}
        </dl>
      )}
      {content.html && (
        <iframe
          className="rendered__html"
          title="Email HTML"
          sandbox=""
          srcDoc={content.html}
          referrerPolicy="no-referrer"
        />
      )}
      {content.text && (
        <details className="rendered__text">
          <summary>Plain-text part</summary>
          <pre className="code">{content.text}</pre>
        </details>
      )}
      {hasInApp && (
        <div className="inapp-card">
          <strong data-field="title">{content.title}</strong>
          {content.message && <p data-field="message">{content.message}</p>}
          {content.actionUrl && (
            <span className="inapp-card__action">
              {content.actionLabel ?? 'Open'} → <code>{content.actionUrl}</code>
            </span>
          )}
        </div>
      )}
      {content.payload !== undefined && (
        <pre className="code" data-field="payload">
          {JSON.stringify(content.payload, null, 2)}
        </pre>
      )}
    </div>
  );
}
