/** The frame of the signed-out pages: the brand above one centred card. */
import type { ReactElement, ReactNode } from 'react';

export function AuthCard({ title, children }: { title: string; children: ReactNode }): ReactElement {
  return (
    <div className="auth">
      <p className="auth__brand">
        <span className="brand__mark" aria-hidden="true">
          ◆
        </span>{' '}
        Corner Market <span className="brand__tag">supadispatch demo</span>
      </p>
      <main className="card auth__card">
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}
