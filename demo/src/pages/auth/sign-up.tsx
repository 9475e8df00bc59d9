/**
 * /signup: a new account. The name and region go in the user's metadata, from which the database's
 * sign-up trigger fills the profile (never an admin flag: admins come from the core's rule).
 */
import { type FormEvent, type ReactElement, useState } from 'react';
import { Link, Navigate, useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { ErrorNote, Field, SuccessNote } from '../../components/ui.tsx';
import { supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';

/** The regions of `profiles.region` (the regional admin alerts go to admins of the order's region). */
export const regions = ['north', 'south'] as const;

export function SignUp(): ReactElement {
  const { session } = useSession();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [region, setRegion] = useState<string>(regions[0]);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  if (session) return <Navigate to="/shop" replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const { data, error } = await supabase.auth.signUp({
      email: email.trim(),
      password,
      options: { data: { display_name: name.trim(), region } },
    });
    setBusy(false);
    if (error) setError(error.message);
    else if (data.session) navigate('/shop', { replace: true });
    else setConfirm(true);
  }

  return (
    <AuthCard title="Create an account">
      {confirm ? (
        <SuccessNote>
          Almost there: we sent a confirmation link to <strong>{email}</strong>. Open it to finish signing up.
        </SuccessNote>
      ) : (
        <form className="form" onSubmit={submit}>
          <label>
            Display name
            <input autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} />
          </label>
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
          <label>
            Password
            <input
              type="password"
              autoComplete="new-password"
              required
              minLength={6}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <Field label="Region">
            <select value={region} onChange={(e) => setRegion(e.target.value)}>
              {regions.map((r) => (
                <option key={r} value={r}>
                  {r[0].toUpperCase() + r.slice(1)}
                </option>
              ))}
            </select>
          </Field>
          <ErrorNote error={error} />
          <button type="submit" className="button button--primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create account'}
          </button>
        </form>
      )}
      <p className="auth__links">
        <span>
          Already have an account? <Link to="/signin">Sign in</Link>
        </span>
      </p>
    </AuthCard>
  );
}
