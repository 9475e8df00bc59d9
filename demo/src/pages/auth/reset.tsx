/**
 * /reset: where the reset email's link lands. supabase-js reads the session from the URL's fragment
 * (the link signed the user in for this); the user chooses a new password. A link that failed
 * (expired, used) brings its error in the fragment instead.
 */
import { type ReactElement, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { ErrorNote, Loading } from '../../components/ui.tsx';
import { linkError } from '../../lib/auth-links.ts';
import { landingHash, supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';
import { AuthForm, AuthInput } from './auth-form.tsx';

export function Reset(): ReactElement {
  const { session } = useSession();
  const navigate = useNavigate();
  const [failed] = useState(() => linkError(landingHash));
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');

  async function submit() {
    if (password !== again) return 'The two passwords differ.';
    const { error } = await supabase.auth.updateUser({ password });
    if (error) return error.message;
    navigate('/shop?password=changed', { replace: true });
    return null;
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
      <AuthForm submit={submit} label="Save new password" busyLabel="Saving…">
        <p className="muted">
          Signed in as <strong>{session.user.email}</strong> from your reset link.
        </p>
        <AuthInput
          label="New password"
          type="password"
          autoComplete="new-password"
          minLength={6}
          value={password}
          onChange={setPassword}
        />
        <AuthInput
          label="Repeat the new password"
          type="password"
          autoComplete="new-password"
          minLength={6}
          value={again}
          onChange={setAgain}
        />
      </AuthForm>
    </AuthCard>
  );
}
