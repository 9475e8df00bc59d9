/**
 * The form of the signed-out pages: labelled inputs, the error Auth answered, and one submit button
 * that says it is busy. Each page gives only its fields and what submitting does.
 */
import { type FormEvent, type InputHTMLAttributes, type ReactElement, type ReactNode, useState } from 'react';
import { ErrorNote } from '../../components/ui.tsx';

export function AuthForm({
  submit,
  label,
  busyLabel,
  children,
}: {
  /** Does the page's Auth call; resolves to the message to show, or null when it went through. */
  submit(): Promise<string | null>;
  label: string;
  busyLabel: string;
  children: ReactNode;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setError(await submit());
    } catch (thrown) {
      setError((thrown as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={onSubmit}>
      {children}
      <ErrorNote error={error} />
      <button type="submit" className="button button--primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </form>
  );
}

/** A required text input inside its label (the label is the input's accessible name). */
export function AuthInput({
  label,
  value,
  onChange,
  ...input
}: {
  label: string;
  value: string;
  onChange(value: string): void;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'>): ReactElement {
  return (
    <label>
      {label}
      <input required {...input} value={value} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}
