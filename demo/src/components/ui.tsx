/** The few building blocks every page shares: its header, notices, status pills and empty states. */
import { cloneElement, type ReactElement, type ReactNode, useId } from 'react';

export function PageHeader({
  title,
  children,
  actions,
}: {
  title: string;
  children?: ReactNode;
  actions?: ReactNode;
}): ReactElement {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {children && <p className="page-header__lead">{children}</p>}
      </div>
      {actions && <div className="page-header__actions">{actions}</div>}
    </header>
  );
}

/** An error the user should read: what failed and why, as the server said it. */
export function ErrorNote({ error, title }: { error: unknown; title?: string }): ReactElement | null {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="notice notice--error" role="alert">
      {title && <strong>{title} </strong>}
      {message}
    </div>
  );
}

/** A confirmation that something happened (announced politely to screen readers). */
export function SuccessNote({ children }: { children: ReactNode }): ReactElement | null {
  if (!children) return null;
  return (
    <div className="notice notice--success" role="status">
      {children}
    </div>
  );
}

/** An order's or a receipt's status as a coloured pill. */
export function StatusPill({ status }: { status: string }): ReactElement {
  return (
    <span className="pill" data-status={status}>
      {status}
    </span>
  );
}

export function Empty({ children }: { children: ReactNode }): ReactElement {
  return <p className="empty">{children}</p>;
}

export function Loading({ what }: { what: string }): ReactElement {
  return (
    <p className="loading" aria-busy="true">
      Loading {what}…
    </p>
  );
}

/**
 * A labelled control: the label names the control by `for`/`id`, not by wrapping it, so a select's
 * accessible name is its label alone (a wrapping label would also hold the options' text).
 */
export function Field({
  label,
  children,
}: {
  label: ReactNode;
  children: ReactElement<{ id?: string }>;
}): ReactElement {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id })}
    </div>
  );
}
