/**
 * realtime.messages as the messages the core meant, for tests that read broadcasts in SQL: every
 * `batch` broadcast (one per topic per statement or drain, sql/core/030_realtime.sql) unwrapped into
 * its inner messages, one row each, in order (`part`); other rows as they are. Use it where
 * `realtime.messages` would go: `select ... from ${UNBATCHED_MESSAGES} m where m.event = 'counter'`.
 * (The pgTAP twin is sql/test/fixtures/broadcasts.sql.)
 */
export const UNBATCHED_MESSAGES = `(
  select rm.id, rm.topic, rm.inserted_at, rm.private, rm.extension, rm.event as sent_event,
         coalesce(x.e ->> 'event', rm.event) as event, coalesce(x.e -> 'payload', rm.payload) as payload,
         coalesce(x.i, 1) as part
  from realtime.messages rm
  left join lateral jsonb_array_elements(case when rm.event = 'batch' then rm.payload -> 'messages' end)
    with ordinality as x(e, i) on true
)`;
