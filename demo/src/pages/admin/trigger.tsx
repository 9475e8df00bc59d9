/**
 * /admin/trigger: fire an event by hand for a real row (`dispatch-trigger`): real data and real
 * tokens, receipts written and delivered like any other. "Dry run" shows who would receive what,
 * writing nothing. The receipts' statuses follow live until each is final.
 */
import { useDispatchClient } from '@supadispatch/react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type ReactElement, useEffect, useState } from 'react';
import {
  Empty,
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  StatusPill,
  SuccessNote,
} from '../../components/ui.tsx';
import type { EventId } from '../../dispatch.ts';
import { listEvents, type TriggerAnswer, type TriggerRequest, trigger } from '../../lib/admin-functions.ts';
import { shortId, transportLabel } from '../../lib/format.ts';
import { useRecentOrders } from '../../lib/orders.ts';
import { usePeople } from '../../lib/people.ts';
import { currentStatuses, finalStatuses } from '../../lib/receipt-status.ts';
import { RecordSource } from './record-source.tsx';

function Result({ answer, eventId }: { answer: TriggerAnswer; eventId: string }): ReactElement {
  const client = useDispatchClient();
  const person = usePeople();
  const [settled, setSettled] = useState(false);
  const live = useQuery({
    ...client.queries.receipts({ eventId: eventId as EventId, maxRows: 200 }),
    enabled: !answer.dryRun && answer.receipts.length > 0,
    refetchInterval: settled ? false : 1500,
  });
  const statuses = currentStatuses(answer.receipts, live.data);
  const allFinal = [...statuses.values()].every((s) => finalStatuses.includes(s));
  // stop polling once every receipt is final
  useEffect(() => setSettled(allFinal), [allFinal]);
  return (
    <section className="card" aria-label="Trigger result">
      {answer.dryRun ? (
        <SuccessNote>Dry run: nothing was written. These receipts would be created:</SuccessNote>
      ) : (
        <SuccessNote>
          {answer.created === false ? 'Already fired with this key: ' : 'Fired: '}
          occurrence <span className="mono">{shortId(answer.occurrenceId)}</span>, {answer.receipts.length}{' '}
          receipts.
        </SuccessNote>
      )}
      {answer.occurrence?.error && <ErrorNote error={answer.occurrence.error} title="The event failed:" />}
      {answer.receipts.length === 0 ? (
        <Empty>No recipient: nobody would receive this event for that row.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Audience</th>
              <th scope="col">Recipient</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {answer.receipts.map((r, i) => (
              <tr key={r.id ?? i} data-receipt-id={r.id}>
                <td>
                  <span className="mono">{r.channel}</span> ({transportLabel(r.transport)})
                </td>
                <td>{r.audience}</td>
                <td className="recipient">{r.address ?? person(r.userId)}</td>
                <td>
                  <StatusPill status={(r.id && statuses.get(r.id)) || r.status} />
                  {r.contentError && <span className="receipt-error">{r.contentError}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function AdminTrigger(): ReactElement {
  const events = useQuery({ queryKey: ['dispatch', 'preview', 'events'], queryFn: listEvents });
  const orders = useRecentOrders();
  const [eventId, setEventId] = useState('');
  const [recordId, setRecordId] = useState('');
  const [dryRun, setDryRun] = useState(false);
  const fire = useMutation({ mutationFn: (request: TriggerRequest) => trigger(request) });
  // auth.* events come from Supabase Auth (with its tokens); a manual trigger needs a table's row
  const triggerable = (events.data ?? []).filter((e) => e.table && !e.id.startsWith('auth.'));
  const event = triggerable.find((e) => e.id === eventId) ?? null;

  return (
    <>
      <PageHeader title="Manual trigger">
        Send an event by hand for a real row: the same receipts, retries and tokens as when the database fires
        it.
      </PageHeader>
      <ErrorNote error={events.error} />
      {events.isPending && <Loading what="events" />}
      <form
        className="card form form--inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!event) return;
          fire.mutate({ eventId: event.id, recordId, dryRun, idempotencyKey: crypto.randomUUID() });
        }}
      >
        <Field label="Event">
          <select
            value={eventId}
            onChange={(e) => {
              setEventId(e.target.value);
              setRecordId('');
              fire.reset();
            }}
          >
            <option value="" disabled>
              Choose an event
            </option>
            {triggerable.map((e) => (
              <option key={e.id} value={e.id}>
                {e.id}
              </option>
            ))}
          </select>
        </Field>
        {event?.table && (
          <RecordSource
            table={event.table}
            orders={orders.data ?? []}
            value={recordId}
            onChange={setRecordId}
          />
        )}
        <label className="check">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} />
          Dry run (write nothing)
        </label>
        <div className="form__buttons">
          <button
            type="submit"
            className="button button--primary"
            disabled={!event || !recordId || fire.isPending}
          >
            {fire.isPending ? 'Triggering…' : 'Trigger'}
          </button>
        </div>
      </form>
      <ErrorNote error={fire.error} title="Trigger refused." />
      {fire.data && <Result key={fire.data.occurrenceId ?? 'dry'} answer={fire.data} eventId={eventId} />}
    </>
  );
}
