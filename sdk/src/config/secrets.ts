/**
 * Secret detection: values that look like credentials pasted into the config instead of named.
 * The config is committed and its settings end up in generated SQL, so a secret must be referenced
 * by the name it has in the project's secrets, never written in.
 */

const SECRET_PATTERNS: [RegExp, string][] = [
  [/^re_[A-Za-z0-9_]{8,}$/, 'a Resend API key'],
  [/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'a webhook signing secret'],
  [/^xox[abposr]-[A-Za-z0-9-]{8,}/, 'a Slack token'],
  [/^(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}/, 'a Stripe-style secret key'],
  [/^SG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, 'a SendGrid API key'],
  [/^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/, 'a JWT'],
  [/^https:\/\/hooks\.slack\.com\/services\//i, 'a Slack webhook URL (the URL is the secret)'],
  [
    /^https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\//i,
    'a Discord webhook URL (the URL is the secret)',
  ],
  [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'a URL with a password'],
  [/[?&](?:token|access_token|api_key|apikey|key|secret|sig|signature)=[^&\s]{6,}/i, 'a URL with a token'],
];

/** What the value looks like ("a Resend API key"), or undefined when it looks like no secret. */
export function looksLikeSecret(value: string): string | undefined {
  for (const [re, what] of SECRET_PATTERNS) if (re.test(value)) return what;
  return undefined;
}
