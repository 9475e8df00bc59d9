/**
 * /admin/failed: receipts whose delivery failed for good, each with every attempt (outcome, HTTP
 * status, error, duration), and "Retry" to give them one more attempt (`dispatch_requeue_receipts`).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactElement, useState } from 'react';
import { Empty, ErrorNote, Loading, PageHeader, SuccessNote } from '../../components/ui.tsx';
import { formatDateTime, shortId, transportLabel } from '../../lib/format.ts';
import { usePeople } from '../../lib/people.ts';
import { requeueSummary } from '../../lib/receipt-status.ts';
import { type FailedReceipt, failedReceipts, requeueReceipts } from '../../lib/rpc.ts';

function Attempts({ receipt }: { receipt: FailedReceipt }): ReactElement {
  if (receipt.attempts.length === 0) return <p className="muted">No attempt recorded.</p>;
  return (
    <table className="attempts">
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Outcome</th>
          <th scope="col">HTTP</th>
          <th scope="col">Started</th>
          <th scope="col" className="num">
            Took
          </th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {receipt.attempts.map((a) => (
          <tr key={a.attempt}>
            <td>{a.attempt}</td>
            <td>{a.outcome}</td>
            <td>{a.httpStatus ?? '—'}</td>
            <td>{formatDateTime(a.startedAt)}</td>
            <td className="num">{a.durationMs == null ? '' : `${a.durationMs} ms`}</td>
            <td className="receipt-error">{a.error ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AdminFailed(): ReactElement {
  const queryClient = useQueryClient();
  const person = usePeople();
  const [done, setDone] = useState<string | null>(null);
  const failed = useQuery({ queryKey: ['dispatch', 'failed_receipts'], queryFn: () => failedReceipts() });
  const retry = useMutation({
    mutationFn: async (ids: string[]) => {
      const { data, error } = await requeueReceipts(ids);
      if (error) throw error;
      return data;
    },
    onSuccess: (result) => {
      setDone(requeueSummary(result));
      void queryClient.invalidateQueries({ queryKey: ['dispatch'] });
    },
  });
  const list = failed.data ?? [];
  return (
    <>
      <PageHeader
        title="Failed deliveries"
        actions={
          list.length > 0 && (
            <button
              type="button"
              className="button"
              disabled={retry.isPending}
              onClick={() => retry.mutate(list.map((r) => r.id))}
            >
              Retry all
            </button>
          )
        }
      >
        Receipts that ran out of attempts. Fix the cause (an address, a webhook endpoint), then retry.
      </PageHeader>
      <SuccessNote>{done}</SuccessNote>
      <ErrorNote error={retry.error} title="Retry refused." />
      <ErrorNote error={failed.error} />
      {failed.isPending && <Loading what="failed deliveries" />}
      {failed.data?.length === 0 && <Empty>No failed deliveries. Everything went out.</Empty>}
      <div className="stack">
        {list.map((r) => (
          <article key={r.id} className="card failed" data-receipt-id={r.id}>
            <header className="failed__header">
              <div>
                <h2 className="failed__title">
                  <span className="mono">{r.eventId}</span> · {transportLabel(r.transport)} to{' '}
                  {r.address ?? (r.userId ? person(r.userId) : r.audience)}
                </h2>
                <p className="muted">
                  Failed {formatDateTime(r.failedAt)} after {r.attemptCount} attempts · receipt{' '}
                  <span className="mono">{shortId(r.id)}</span>
                </p>
              </div>
              <button
                type="button"
                className="button button--primary button--small"
                disabled={retry.isPending}
                onClick={() => retry.mutate([r.id])}
              >
                Retry
              </button>
            </header>
            {r.lastError && <p className="receipt-error">{r.lastError}</p>}
            <Attempts receipt={r} />
          </article>
        ))}
      </div>
    </>
  );
}
