/**
 * /preferences: each event users may turn off, with a checkbox per transport, through the SDK's
 * `usePreferences` / `useSetPreference`. An event turned off by email still reaches the user in-app;
 * its email receipt is kept as `skipped` (visible to admins), and nothing is sent.
 */
import { usePreferences, useSetPreference } from '@supadispatch/react';
import type { ReactElement } from 'react';
import { ErrorNote, Loading, PageHeader } from '../components/ui.tsx';
import type { PreferenceChange } from '../dispatch.ts';
import { transportLabel } from '../lib/format.ts';
import { isEnabled } from '../lib/preferences.ts';

export function PreferencesPage(): ReactElement {
  const preferences = usePreferences();
  const setPreference = useSetPreference();
  const events = preferences.data?.events ?? [];
  const stored = preferences.data?.preferences ?? [];
  return (
    <>
      <PageHeader title="Notification preferences">
        Choose how each kind of notification reaches you. Changes apply to the next notification.
      </PageHeader>
      <ErrorNote error={preferences.error} />
      <ErrorNote error={setPreference.error} title="Could not save the preference." />
      {preferences.isPending && <Loading what="your preferences" />}
      {preferences.data && events.length === 0 && (
        <p className="empty">No notifications can be turned off.</p>
      )}
      <div className="pref-list">
        {events.map((event) => (
          <fieldset key={event.id} className="card pref" data-event={event.id}>
            <legend className="pref__title">
              <span className="mono">{event.id}</span>
              {event.category && <span className="pref__category">{event.category}</span>}
            </legend>
            {event.description && <p className="pref__description">{event.description}</p>}
            <div className="pref__transports">
              {event.transports.map((transport) => {
                const enabled = isEnabled(stored, event, transport);
                return (
                  <label key={transport} className="switch">
                    <input
                      type="checkbox"
                      // the visible label names the transport; the event makes the name unique on the page
                      aria-label={`${transportLabel(transport)} for ${event.id}`}
                      checked={enabled}
                      disabled={setPreference.isPending}
                      onChange={(e) =>
                        // one event and one of its own transports (the list pairs them)
                        setPreference.mutate({
                          eventId: event.id,
                          transport,
                          enabled: e.target.checked,
                        } as PreferenceChange)
                      }
                    />
                    {transportLabel(transport)}
                  </label>
                );
              })}
            </div>
          </fieldset>
        ))}
      </div>
    </>
  );
}
