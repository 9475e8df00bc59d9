/** A select of recent orders (all of them for an admin), for previews and triggers from a real row. */
import type { ReactElement } from 'react';
import { formatPrice } from '../lib/format.ts';
import type { Order } from '../lib/orders.ts';
import { Field } from './ui.tsx';

export function orderLabel(o: Order): string {
  const product = o.product ? `${o.product.name} (${formatPrice(o.product.price_cents)})` : 'unknown product';
  return `#${o.number} · ${product} · ${o.status}`;
}

export function OrderPicker({
  orders,
  value,
  onChange,
  label = 'Order',
}: {
  orders: readonly Order[];
  value: string;
  onChange: (id: string) => void;
  label?: string;
}): ReactElement {
  return (
    <Field label={label}>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="" disabled>
          {orders.length === 0 ? 'No orders yet' : 'Choose an order'}
        </option>
        {orders.map((o) => (
          <option key={o.id} value={o.id}>
            {orderLabel(o)}
          </option>
        ))}
      </select>
    </Field>
  );
}
