/**
 * /admin/receipts: the delivery log. One receipt per recipient and channel, with its status
 * (pending → scheduled → sending → sent | failed, or skipped / cancelled), attempts, schedule and last
 * error. Refreshed every few seconds while open. `dispatch_receipts` refuses non-admins.
 */
import { useDispatchClient } from '@supadispatch/react';
import { useQuery } from '@tanstack/react-query';
import { Fragment, type ReactElement, useState } from 'react';
import type { ReceiptStatus } from 'supadispatch/client';
import { Empty, ErrorNote, Field, Loading, PageHeader, StatusPill } from '../../components/ui.tsx';
import { type EventId, eventIds } from '../../dispatch.ts';
import { formatDateTime, transportLabel } from '../../lib/format.ts';
import { usePeople } from '../../lib/people.ts';

export const receiptStatuses: readonly ReceiptStatus[] = [
  'pending',
  'scheduled',
  'sending',
  'sent',
  'failed',
  'skipped',
  'cancelled',
];

export function AdminReceipts(): ReactElement {
  const client = useDispatchClient();
  const person = usePeople();
  const [eventId, setEventId] = useState<EventId | ''>('');
  const [status, setStatus] = useState<ReceiptStatus | ''>('');
  const [open, setOpen] = useState<string | null>(null);
  const receipts = useQuery({
    ...client.queries.receipts({
      ...(eventId ? { eventId } : {}),
      ...(status ? { status } : {}),
      maxRows: 100,
    }),
    refetchInterval: 3000,
  });
  return (
    <>
      <PageHeader title="Receipts">
        Every delivery, one per recipient and channel, newest first. Updates every few seconds.
      </PageHeader>
      <div className="toolbar">
        <Field label="Event">
          <select value={eventId} onChange={(e) => setEventId(e.target.value as EventId | '')}>
            <option value="">All events</option>
            {eventIds.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Status">
          <select value={status} onChange={(e) => setStatus(e.target.value as ReceiptStatus | '')}>
            <option value="">All statuses</option>
            {receiptStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorNote error={receipts.error} />
      {receipts.isPending && <Loading what="receipts" />}
      {receipts.data?.length === 0 && <Empty>No receipts match.</Empty>}
      {receipts.data && receipts.data.length > 0 && (
        <div className="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event and channel</th>
                <th scope="col">Recipient</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Delivery</th>
                <th scope="col">
                  <span className="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {receipts.data.map((r) => (
                <Fragment key={r.id}>
                  <tr data-receipt-id={r.id} data-status={r.status}>
                    <td className="nowrap">{formatDateTime(r.createdAt)}</td>
                    <td>
                      <span className="mono">{r.eventId}</span>
                      <span className="sub">
                        {transportLabel(r.transport)} → {r.audience}
                      </span>
                    </td>
                    <td className="recipient">{r.address ?? person(r.userId)}</td>
                    <td>
                      <StatusPill status={r.status} />
                    </td>
                    <td className="num">{r.attemptCount}</td>
                    <td className="nowrap">
                      {r.sentAt
                        ? `sent ${formatDateTime(r.sentAt)}`
                        : r.nextAttemptAt && !['skipped', 'cancelled', 'failed'].includes(r.status)
                          ? `due ${formatDateTime(r.nextAttemptAt)}`
                          : ''}
                      {(r.lastError || r.skipReason) && (
                        <span className="receipt-error">{r.lastError ?? r.skipReason}</span>
                      )}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="button button--quiet button--small"
                        aria-expanded={open === r.id}
                        onClick={() => setOpen(open === r.id ? null : r.id)}
                      >
                        Details
                      </button>
                    </td>
                  </tr>
                  {open === r.id && (
                    <tr className="details">
                      <td colSpan={7}>
                        <dl className="facts">
                          <dt>Receipt</dt>
                          <dd className="mono">{r.id}</dd>
                          <dt>Occurrence</dt>
                          <dd className="mono">{r.occurrenceId ?? '—'}</dd>
                          <dt>Channel</dt>
                          <dd>{r.channel}</dd>
                          {r.providerMessageId && (
                            <>
                              <dt>Provider id</dt>
                              <dd className="mono">{r.providerMessageId}</dd>
                            </>
                          )}
                        </dl>
                        <pre className="code">
                          {r.content ? JSON.stringify(r.content, null, 2) : 'Not rendered yet.'}
                        </pre>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
