/**
 * /forgot: asks Supabase Auth for a password-reset email. Auth hands the email to the
 * `dispatch-auth-email` hook, so it goes out as a supadispatch event (receipt, retries); its link
 * comes back to /reset.
 */
import { type FormEvent, type ReactElement, useState } from 'react';
import { Link } from 'react-router';
import { ErrorNote, SuccessNote } from '../../components/ui.tsx';
import { supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';

export function Forgot(): ReactElement {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const to = email.trim();
    const { error } = await supabase.auth.resetPasswordForEmail(to, {
      redirectTo: `${window.location.origin}/reset`,
    });
    setBusy(false);
    if (error) setError(error.message);
    else setSent(to);
  }

  return (
    <AuthCard title="Reset your password">
      {sent ? (
        <SuccessNote>
          If an account exists for <strong>{sent}</strong>, a link to choose a new password is on its way.
        </SuccessNote>
      ) : (
        <form className="form" onSubmit={submit}>
          <p className="muted">Enter your email and we will send you a link to choose a new password.</p>
          <label>
            Email
            <input
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </label>
          <ErrorNote error={error} />
          <button type="submit" className="button button--primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send reset link'}
          </button>
        </form>
      )}
      <p className="auth__links">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}
