/**
 * /orders: the signed-in buyer's orders and their status, refreshed when a counter names `['orders']`.
 * An open order can still be cancelled by its buyer.
 */
import type { ReactElement } from 'react';
import { Link } from 'react-router';
import { useUserId } from '../auth/session.tsx';
import { Count } from '../components/count.tsx';
import { Empty, ErrorNote, Loading, PageHeader, StatusPill } from '../components/ui.tsx';
import { formatDateTime, formatPrice } from '../lib/format.ts';
import { openStatuses, useMyOrders, useSetOrderStatus } from '../lib/orders.ts';

export function Orders(): ReactElement {
  const userId = useUserId();
  const orders = useMyOrders(userId);
  const setStatus = useSetOrderStatus();
  return (
    <>
      <PageHeader title="My orders">
        <Count name="my_open_orders" /> open, waiting to be shipped.
      </PageHeader>
      <ErrorNote error={setStatus.error} title="Could not cancel the order." />
      <ErrorNote error={orders.error} />
      {orders.isPending && <Loading what="your orders" />}
      {orders.data?.length === 0 && (
        <Empty>
          No orders yet. <Link to="/shop">Visit the shop</Link>.
        </Empty>
      )}
      {orders.data && orders.data.length > 0 && (
        <div className="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Product</th>
                <th scope="col" className="num">
                  Price
                </th>
                <th scope="col">Status</th>
                <th scope="col">Placed</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.data.map((o) => (
                <tr key={o.id} data-order-id={o.id}>
                  <td className="mono">#{o.number}</td>
                  <td>{o.product?.name ?? '—'}</td>
                  <td className="num">{o.product ? formatPrice(o.product.price_cents) : ''}</td>
                  <td>
                    <StatusPill status={o.status} />
                  </td>
                  <td>{formatDateTime(o.created_at)}</td>
                  <td className="actions">
                    {openStatuses.includes(o.status) && (
                      <button
                        type="button"
                        className="button button--danger button--small"
                        disabled={setStatus.isPending && setStatus.variables?.order.id === o.id}
                        onClick={() => setStatus.mutate({ order: o, status: 'cancelled' })}
                      >
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
