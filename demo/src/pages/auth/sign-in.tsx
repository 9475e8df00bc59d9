/** /signin: email and password; then back to the page that sent the user here, or the shop. */
import { type ReactElement, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { safeNext } from '../../lib/auth-links.ts';
import { supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';
import { AuthForm, AuthInput } from './auth-form.tsx';

export function SignIn(): ReactElement {
  const { session } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const next = safeNext(params.get('next'));
  if (session) return <Navigate to={next} replace />;

  async function submit() {
    const { error } = await supabase.auth.signInWithPassword({ email: email.trim(), password });
    if (error) return error.message;
    navigate(next, { replace: true });
    return null;
  }

  return (
    <AuthCard title="Sign in">
      <AuthForm submit={submit} label="Sign in" busyLabel="Signing in…">
        <AuthInput label="Email" type="email" autoComplete="email" value={email} onChange={setEmail} />
        <AuthInput
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
        />
      </AuthForm>
      <p className="auth__links">
        <Link to="/forgot">Forgot your password?</Link>
        <span>
          New here? <Link to="/signup">Create an account</Link>
        </span>
      </p>
    </AuthCard>
  );
}
