/**
 * /reset: where the reset email's link lands. supabase-js reads the session from the URL's fragment
 * (the link signed the user in for this); the user chooses a new password. A link that failed
 * (expired, used) brings its error in the fragment instead.
 */
import { type FormEvent, type ReactElement, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { ErrorNote, Loading } from '../../components/ui.tsx';
import { linkError } from '../../lib/auth-links.ts';
import { landingHash, supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';

export function Reset(): ReactElement {
  const { session } = useSession();
  const navigate = useNavigate();
  const [failed] = useState(() => linkError(landingHash));
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (password !== again) {
      setError('The two passwords differ.');
      return;
    }
    setBusy(true);
    setError(null);
    const { error } = await supabase.auth.updateUser({ password });
    setBusy(false);
    if (error) setError(error.message);
    else navigate('/shop?password=changed', { replace: true });
  }

  if (session === undefined) return <Loading what="your reset link" />;
  if (failed || !session) {
    return (
      <AuthCard title="Reset link not valid">
        <ErrorNote error={failed ?? 'This page needs the link from a password-reset email.'} />
        <p className="auth__links">
          <Link to="/forgot">Send a new link</Link>
        </p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Choose a new password">
      <form className="form" onSubmit={submit}>
        <p className="muted">
          Signed in as <strong>{session.user.email}</strong> from your reset link.
        </p>
        <label>
          New password
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={6}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label>
          Repeat the new password
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={6}
            value={again}
            onChange={(e) => setAgain(e.target.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" className="button button--primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save new password'}
        </button>
      </form>
    </AuthCard>
  );
}
