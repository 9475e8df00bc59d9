/**
 * /admin/events: the config's events (from `dispatch-preview`), their channels, and a preview of what
 * each channel sends, rendered from the event's sample data or from a real order. A preview sends
 * nothing and writes no receipt; "Send test to me" emails that rendering, marked as a test, to the
 * signed-in admin's own address only.
 */
import { useMutation, useQuery } from '@tanstack/react-query';
import { type ReactElement, useEffect, useState } from 'react';
import { useSession } from '../../auth/session.tsx';
import { Rendered } from '../../components/rendered.tsx';
import { Empty, ErrorNote, Field, Loading, PageHeader, SuccessNote } from '../../components/ui.tsx';
import { type EventInfo, listEvents, type PreviewRequest, preview } from '../../lib/admin-functions.ts';
import { formatDelay, transportLabel } from '../../lib/format.ts';
import { useRecentOrders } from '../../lib/orders.ts';
import { RecordSource } from './record-source.tsx';

type Source = 'sample' | 'record';

const sourceLabel: Record<string, string> = {
  sampleData: 'the event’s sample data',
  placeholders: 'placeholders named after each variable',
  record: 'a real row',
};

function EventDetail({ event }: { event: EventInfo }): ReactElement {
  const { session } = useSession();
  const me = session?.user.email ?? '';
  const orders = useRecentOrders(event.table !== null);
  const [source, setSource] = useState<Source>(event.sampleData ? 'sample' : 'record');
  const [recordId, setRecordId] = useState('');
  const [channel, setChannel] = useState('');
  const rendering = useMutation({ mutationFn: (request: PreviewRequest) => preview(request) });
  const testSend = useMutation({ mutationFn: (request: PreviewRequest) => preview(request) });

  const request = (): PreviewRequest => ({
    eventId: event.id,
    ...(channel ? { channel } : {}),
    ...(source === 'record' && recordId ? { recordId } : {}),
  });
  const canRender = source === 'sample' || recordId !== '';
  const result = rendering.data;

  return (
    <section className="card event-detail" aria-labelledby="event-title">
      <h2 id="event-title" className="mono">
        {event.id}
      </h2>
      <p className="muted">
        {event.table ? `On ${event.table}` : 'Not tied to a table'}
        {event.module ? ' · event module' : ' · inline event'}
        {typeof event.metadata.category === 'string' ? ` · category ${event.metadata.category}` : ''}
      </p>
      {event.channels.length > 0 ? (
        <table className="channels">
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Transport</th>
              <th scope="col">Audience</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {event.channels.map((c) => (
              <tr key={c.name}>
                <td className="mono">{c.name}</td>
                <td>{transportLabel(c.transport)}</td>
                <td>{c.audience}</td>
                <td>{formatDelay(c.delaySeconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">The event module chooses its channels and recipients when it runs.</p>
      )}

      <h3>Preview</h3>
      <form
        className="form form--inline"
        onSubmit={(e) => {
          e.preventDefault();
          testSend.reset();
          rendering.mutate(request());
        }}
      >
        <fieldset className="radios">
          <legend>Render from</legend>
          <label>
            <input
              type="radio"
              name="source"
              checked={source === 'sample'}
              disabled={!event.sampleData}
              onChange={() => setSource('sample')}
            />
            Sample data
          </label>
          <label>
            <input
              type="radio"
              name="source"
              checked={source === 'record'}
              disabled={!event.table}
              onChange={() => setSource('record')}
            />
            A real record
          </label>
        </fieldset>
        {source === 'record' && event.table && (
          <RecordSource
            table={event.table}
            orders={orders.data ?? []}
            value={recordId}
            onChange={setRecordId}
          />
        )}
        {event.channels.length > 1 && (
          <Field label="Channel">
            <select value={channel} onChange={(e) => setChannel(e.target.value)}>
              <option value="">Default (email first)</option>
              {event.channels.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} ({transportLabel(c.transport)})
                </option>
              ))}
            </select>
          </Field>
        )}
        <div className="form__buttons">
          <button
            type="submit"
            className="button button--primary"
            disabled={!canRender || rendering.isPending}
          >
            {rendering.isPending ? 'Rendering…' : 'Preview'}
          </button>
          <button
            type="button"
            className="button"
            disabled={!canRender || !me || testSend.isPending}
            onClick={() => testSend.mutate({ ...request(), testSendTo: me })}
          >
            {testSend.isPending ? 'Sending…' : 'Send test to me'}
          </button>
        </div>
      </form>
      <p className="hint">Previews send nothing and write no receipt. A test goes only to {me || 'you'}.</p>
      <ErrorNote error={rendering.error} />
      <ErrorNote error={testSend.error} />
      {testSend.data?.testSend && (
        <SuccessNote>
          Test email sent to <strong>{testSend.data.testSend.to}</strong> (subject starts with “[Test]”).
        </SuccessNote>
      )}
      {result && (
        <div className="preview" data-testid="preview">
          <p className="muted">
            Channel <span className="mono">{result.channel.name}</span> (
            {transportLabel(result.channel.transport)}), rendered from{' '}
            {sourceLabel[result.source] ?? result.source}.
          </p>
          <Rendered content={result.content} />
        </div>
      )}
    </section>
  );
}

export function AdminEvents(): ReactElement {
  const events = useQuery({ queryKey: ['dispatch', 'preview', 'events'], queryFn: listEvents });
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => {
    if (!selected && events.data?.[0]) setSelected(events.data[0].id);
  }, [events.data, selected]);
  const event = events.data?.find((e) => e.id === selected) ?? null;
  return (
    <>
      <PageHeader title="Events">
        What each event sends, to whom and when. Preview any channel before it goes out.
      </PageHeader>
      <ErrorNote error={events.error} />
      {events.isPending && <Loading what="events" />}
      {events.data?.length === 0 && <Empty>The config has no events.</Empty>}
      {events.data && events.data.length > 0 && (
        <div className="split">
          <ul className="event-list" aria-label="Events">
            {events.data.map((e) => (
              <li key={e.id}>
                <button
                  type="button"
                  className="event-list__item"
                  aria-current={e.id === selected ? 'true' : undefined}
                  onClick={() => setSelected(e.id)}
                >
                  <span className="mono">{e.id}</span>
                  <span className="event-list__meta">
                    {e.channels.length > 0
                      ? [...new Set(e.channels.map((c) => transportLabel(c.transport)))].join(' · ')
                      : 'module'}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {event && <EventDetail key={event.id} event={event} />}
        </div>
      )}
    </>
  );
}
