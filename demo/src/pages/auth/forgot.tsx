/**
 * /forgot: asks Supabase Auth for a password-reset email. Auth hands the email to the
 * `dispatch-auth-email` hook, so it goes out as a supadispatch event (receipt, retries); its link
 * comes back to /reset.
 */
import { type ReactElement, useState } from 'react';
import { Link } from 'react-router';
import { SuccessNote } from '../../components/ui.tsx';
import { supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';
import { AuthForm, AuthInput } from './auth-form.tsx';

export function Forgot(): ReactElement {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string | null>(null);

  async function submit() {
    const to = email.trim();
    const { error } = await supabase.auth.resetPasswordForEmail(to, {
      redirectTo: `${window.location.origin}/reset`,
    });
    if (error) return error.message;
    setSent(to);
    return null;
  }

  return (
    <AuthCard title="Reset your password">
      {sent ? (
        <SuccessNote>
          If an account exists for <strong>{sent}</strong>, a link to choose a new password is on its way.
        </SuccessNote>
      ) : (
        <AuthForm submit={submit} label="Send reset link" busyLabel="Sending…">
          <p className="muted">Enter your email and we will send you a link to choose a new password.</p>
          <AuthInput label="Email" type="email" autoComplete="email" value={email} onChange={setEmail} />
        </AuthForm>
      )}
      <p className="auth__links">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}
