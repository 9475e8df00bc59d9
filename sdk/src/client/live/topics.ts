/**
 * The dispatch topics' channels on an app's own supabase-js client: one private channel per topic,
 * shared by every live client made on that supabase client (React's StrictMode mounts twice, an app
 * may make two providers), counted by listeners and left when the last one goes. Never a second
 * socket: channels are made with `supabase.channel()`, on the socket supabase-js already has.
 *
 * realtime-js returns an existing channel for a topic it still holds, even one that is leaving, and
 * `subscribe()` on that does nothing; so a topic left and joined again waits for the leave to finish.
 * A channel the server closes (realtime-js does not rejoin those) is made again after a backoff.
 */
import type { ChannelLike, ChannelStatus, LiveSupabaseClient } from './supabase.ts';

/** What a listener of a topic hears: its broadcasts and its channel's statuses. */
export interface TopicListener {
  message(event: string, payload: unknown): void;
  status(status: ChannelStatus, error?: Error): void;
}

/** The topics of one supabase client. */
export interface TopicHub {
  /** Listens to `topic` (joining it if nobody else does); returns the function that stops listening. */
  join(topic: string, listener: TopicListener): () => void;
}

/** Delays before making a closed channel again, in ms; the last repeats. */
const REOPEN_DELAYS_MS = [1000, 2000, 5000, 10_000];

interface Topic {
  readonly name: string;
  readonly listeners: Set<TopicListener>;
  channel: ChannelLike | null;
  status: ChannelStatus | null;
  /** The leave of the previous channel of this topic, while it runs. */
  leaving: Promise<void> | null;
  opening: boolean;
  reopenTimer: ReturnType<typeof setTimeout> | null;
  reopenAttempts: number;
}

const hubs = new WeakMap<LiveSupabaseClient, TopicHub>();

/** The hub of `supabase` (one per supabase client). */
export function topicHub(supabase: LiveSupabaseClient): TopicHub {
  let hub = hubs.get(supabase);
  if (!hub) {
    hub = createTopicHub(supabase);
    hubs.set(supabase, hub);
  }
  return hub;
}

function each(topic: Topic, call: (listener: TopicListener) => void): void {
  for (const listener of [...topic.listeners]) {
    try {
      call(listener);
    } catch {
      // one listener's failure must not keep the message from the others
    }
  }
}

function createTopicHub(supabase: LiveSupabaseClient): TopicHub {
  const topics = new Map<string, Topic>();

  const open = (topic: Topic) => {
    if (topic.channel || topic.opening || topic.listeners.size === 0) return;
    topic.opening = true;
    void (topic.leaving ?? Promise.resolve()).then(() => {
      topic.opening = false;
      if (topic.channel || topic.listeners.size === 0) return;
      const channel = supabase.channel(topic.name, { config: { private: true } });
      topic.channel = channel;
      topic.status = null;
      channel.on('broadcast', { event: '*' }, (message) => {
        if (topic.channel === channel) each(topic, (l) => l.message(message.event, message.payload));
      });
      channel.subscribe((status, error) => {
        if (topic.channel !== channel) return; // a channel this hub already left
        topic.status = status;
        if (status === 'SUBSCRIBED') topic.reopenAttempts = 0;
        if (status === 'CLOSED') {
          // closed by the server (an expired token, a revoked read): realtime-js will not rejoin it
          topic.channel = null;
          scheduleReopen(topic);
        }
        each(topic, (l) => l.status(status, error));
      });
    });
  };

  const scheduleReopen = (topic: Topic) => {
    if (topic.reopenTimer || topic.listeners.size === 0) return;
    const delay = REOPEN_DELAYS_MS[Math.min(topic.reopenAttempts, REOPEN_DELAYS_MS.length - 1)];
    topic.reopenAttempts++;
    topic.reopenTimer = setTimeout(() => {
      topic.reopenTimer = null;
      open(topic);
    }, delay);
  };

  const close = (topic: Topic) => {
    if (topic.reopenTimer) clearTimeout(topic.reopenTimer);
    topic.reopenTimer = null;
    topic.reopenAttempts = 0;
    topic.status = null;
    const channel = topic.channel;
    topic.channel = null;
    if (!channel) {
      if (!topic.opening && !topic.leaving) topics.delete(topic.name);
      return;
    }
    const previous = topic.leaving ?? Promise.resolve();
    const leaving: Promise<void> = previous
      .then(() => supabase.removeChannel(channel))
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        if (topic.leaving !== leaving) return;
        topic.leaving = null;
        if (topic.listeners.size === 0 && !topic.channel && !topic.opening) topics.delete(topic.name);
      });
    topic.leaving = leaving;
  };

  return {
    join(name, listener) {
      let topic = topics.get(name);
      if (!topic) {
        topic = {
          name,
          listeners: new Set(),
          channel: null,
          status: null,
          leaving: null,
          opening: false,
          reopenTimer: null,
          reopenAttempts: 0,
        };
        topics.set(name, topic);
      }
      const joined = topic;
      joined.listeners.add(listener);
      if (joined.status === 'SUBSCRIBED') {
        // a topic another client already joined: this listener hears its join too
        queueMicrotask(() => {
          if (joined.listeners.has(listener) && joined.status === 'SUBSCRIBED') listener.status('SUBSCRIBED');
        });
      }
      open(joined);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        joined.listeners.delete(listener);
        if (joined.listeners.size === 0) close(joined);
      };
    },
  };
}
