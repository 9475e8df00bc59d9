/**
 * /signup: a new account. The name and region go in the user's metadata, from which the database's
 * sign-up trigger fills the profile (never an admin flag: admins come from the core's rule).
 */
import { type ReactElement, useState } from 'react';
import { Link, Navigate, useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { Field, SuccessNote } from '../../components/ui.tsx';
import { supabase } from '../../supabase.ts';
import { AuthCard } from './auth-card.tsx';
import { AuthForm, AuthInput } from './auth-form.tsx';

/** The regions of `profiles.region` (the regional admin alerts go to admins of the order's region). */
export const regions = ['north', 'south'] as const;

export function SignUp(): ReactElement {
  const { session } = useSession();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [region, setRegion] = useState<string>(regions[0]);
  const [confirm, setConfirm] = useState(false);
  if (session) return <Navigate to="/shop" replace />;

  async function submit() {
    const { data, error } = await supabase.auth.signUp({
      email: email.trim(),
      password,
      options: { data: { display_name: name.trim(), region } },
    });
    if (error) return error.message;
    if (data.session) navigate('/shop', { replace: true });
    else setConfirm(true);
    return null;
  }

  return (
    <AuthCard title="Create an account">
      {confirm ? (
        <SuccessNote>
          Almost there: we sent a confirmation link to <strong>{email}</strong>. Open it to finish signing up.
        </SuccessNote>
      ) : (
        <AuthForm submit={submit} label="Create account" busyLabel="Creating…">
          <AuthInput label="Display name" autoComplete="name" value={name} onChange={setName} />
          <AuthInput label="Email" type="email" autoComplete="email" value={email} onChange={setEmail} />
          <AuthInput
            label="Password"
            type="password"
            autoComplete="new-password"
            minLength={6}
            value={password}
            onChange={setPassword}
          />
          <Field label="Region">
            <select value={region} onChange={(e) => setRegion(e.target.value)}>
              {regions.map((r) => (
                <option key={r} value={r}>
                  {r[0].toUpperCase() + r.slice(1)}
                </option>
              ))}
            </select>
          </Field>
        </AuthForm>
      )}
      <p className="auth__links">
        <span>
          Already have an account? <Link to="/signin">Sign in</Link>
        </span>
      </p>
    </AuthCard>
  );
}
