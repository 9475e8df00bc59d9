/**
 * The demo's components in jsdom, over the real client core (its RPCs answered by a stand-in):
 * counts come from the counter store; the preference checkboxes show the core's rule and change
 * preferences through the SDK; a rendered email's HTML runs in a frame with no scripts; a select's
 * name is its label alone.
 */
import './support/dom.ts';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DispatchProvider } from '@supadispatch/react';
import { QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, render, screen, waitFor, within } from '@testing-library/react';
import { userEvent } from '@testing-library/user-event';
import type { ReactNode } from 'react';
import { Count } from '../src/components/count.tsx';
import { Rendered } from '../src/components/rendered.tsx';
import { Field } from '../src/components/ui.tsx';
import type { PreferenceRow } from '../src/lib/preferences.ts';
import { PreferencesPage } from '../src/pages/preferences.tsx';
import { type ClientDouble, clientDouble } from './support/client.ts';

afterEach(cleanup);

function withClient(double: ClientDouble, children: ReactNode) {
  return (
    <QueryClientProvider client={double.queryClient}>
      <DispatchProvider client={double.client}>{children}</DispatchProvider>
    </QueryClientProvider>
  );
}

describe('Count', () => {
  it('shows the counter from the store, marked data-counter, and follows it', async () => {
    const double = clientDouble();
    const { container } = render(
      withClient(
        double,
        <p>
          <Count name="pending_orders" /> pending, <Count name="my_open_orders" /> mine
        </p>,
      ),
    );
    const pending = container.querySelector('[data-counter="pending_orders"]');
    const mine = container.querySelector('[data-counter="my_open_orders"]');
    assert.equal(pending?.textContent, '0', 'a counter the store does not hold yet counts 0');
    act(() => double.setCounter('pending_orders', 3));
    assert.equal(pending?.textContent, '3');
    assert.equal(mine?.textContent, '0');
    act(() => double.setCounter('pending_orders', 2));
    assert.equal(pending?.textContent, '2');
  });
});

describe('PreferencesPage', () => {
  const events = [
    {
      id: 'order.shipped',
      category: 'orders',
      type: 'success',
      description: '',
      transports: ['email', 'in_app'],
    },
    { id: 'product.listed', category: 'catalog', type: 'info', description: '', transports: ['in_app'] },
  ];

  it('shows each event and transport as the core decides, and sets one through the SDK', async () => {
    const double = clientDouble();
    let stored: PreferenceRow[] = [{ eventId: null, category: 'catalog', transport: null, enabled: false }];
    double.answers.dispatch_preferences = () => ({ events, preferences: stored });
    double.answers.dispatch_set_preference = (args) => {
      stored = [
        ...stored,
        {
          eventId: String(args?.event_id),
          category: null,
          transport: String(args?.transport),
          enabled: false,
        },
      ];
      return { eventId: args?.event_id, category: null, transport: args?.transport, enabled: args?.enabled };
    };
    render(withClient(double, <PreferencesPage />));

    const shipped = await screen.findByRole('group', { name: /order\.shipped/ });
    const email = within(shipped).getByRole('checkbox', { name: 'Email for order.shipped' });
    const inApp = within(shipped).getByRole('checkbox', { name: 'In-app for order.shipped' });
    const listed = screen.getByRole('checkbox', { name: 'In-app for product.listed' });
    assert.equal((email as HTMLInputElement).checked, true);
    assert.equal((inApp as HTMLInputElement).checked, true);
    assert.equal((listed as HTMLInputElement).checked, false, 'the catalog category is off');

    await userEvent.setup().click(email);
    await waitFor(() => assert.equal((email as HTMLInputElement).checked, false));
    const set = double.calls.filter(([fn]) => fn === 'dispatch_set_preference');
    assert.deepEqual(set, [
      [
        'dispatch_set_preference',
        { event_id: 'order.shipped', transport: 'email', enabled: false, category: null },
      ],
    ]);
    assert.equal((inApp as HTMLInputElement).checked, true, 'the other transport stays on');
  });

  it("shows the server's error when the preferences cannot be read", async () => {
    const double = clientDouble();
    render(withClient(double, <PreferencesPage />));
    const alert = await screen.findByRole('alert');
    assert.match(alert.textContent ?? '', /no answer for dispatch_preferences/);
  });
});

describe('Rendered', () => {
  it("puts an email's HTML in a sandboxed frame (no scripts) beside subject and text", () => {
    const { container } = render(
      <Rendered
        content={{
          subject: 'Order #1003 has shipped',
          from: 'Demo Market <orders@demo-market.test>',
          html: '<p>On its way</p><script>parent.pwned = true</script>',
          text: 'On its way',
        }}
      />,
    );
    const frame = screen.getByTitle('Email HTML') as HTMLIFrameElement;
    assert.equal(frame.getAttribute('sandbox'), '', 'an empty sandbox: no scripts, no same origin');
    assert.match(frame.getAttribute('srcdoc') ?? '', /On its way/);
    assert.equal(container.querySelector('[data-field="subject"]')?.textContent, 'Order #1003 has shipped');
    assert.equal(container.querySelector('script'), null, 'the HTML is not in the page itself');
  });

  it('shows an in-app notification as a card and a webhook payload as JSON', () => {
    const { container } = render(
      <Rendered
        content={{ title: 'New order #1001', message: 'A buyer ordered', payload: { number: '1001' } }}
      />,
    );
    assert.equal(container.querySelector('[data-field="title"]')?.textContent, 'New order #1001');
    assert.deepEqual(JSON.parse(container.querySelector('[data-field="payload"]')?.textContent ?? ''), {
      number: '1001',
    });
  });
});

describe('Field', () => {
  it("names a select by its label alone, not by its options' text", () => {
    render(
      <>
        <Field label="Event">
          <select defaultValue="order.created">
            <option value="order.created">order.created</option>
          </select>
        </Field>
        <Field label="Order">
          <select defaultValue="1">
            <option value="1">#1001 · Stoneware mug</option>
          </select>
        </Field>
      </>,
    );
    assert.equal(screen.getAllByLabelText(/Order/).length, 1);
    assert.equal(screen.getByRole('combobox', { name: 'Event' }).tagName, 'SELECT');
  });
});
