/**
 * /admin/counters: every counter of the config, live from the counter store (user counters are the
 * admin's own; audience counters are shared by the audience), with what each one invalidates.
 */
import { useDispatchStatus } from '@supadispatch/react';
import type { ReactElement } from 'react';
import { Count } from '../../components/count.tsx';
import { PageHeader } from '../../components/ui.tsx';
import { type CounterName, counterNames, counters } from '../../dispatch.ts';

const descriptions: Partial<Record<string, string>> = {
  pending_orders: 'Orders not yet paid, across the shop (the admins’ audience).',
  seller_open_orders: 'Open orders of your products.',
  my_open_orders: 'Your own orders still open.',
  unread_notifications: 'Your unread notifications (built in).',
};

export function AdminCounters(): ReactElement {
  const status = useDispatchStatus();
  return (
    <>
      <PageHeader title="Counters">
        Live values from the counter store, pushed by the database over Realtime ({status}).
      </PageHeader>
      <ul className="counter-grid">
        {counterNames.map((name: CounterName) => {
          const meta = counters[name];
          return (
            <li key={name} className="card counter">
              <span className="counter__name mono">{name}</span>
              <Count name={name} className="counter__value" />
              <span className="counter__scope">
                {meta.scope === 'audience' && 'audience' in meta ? `audience: ${meta.audience}` : 'per user'}
              </span>
              {descriptions[name] && <span className="counter__description">{descriptions[name]}</span>}
              {meta.invalidates.length > 0 && (
                <span className="counter__invalidates">
                  invalidates{' '}
                  {meta.invalidates.map((key) => (
                    <code key={JSON.stringify(key)}>{JSON.stringify(key)}</code>
                  ))}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}
