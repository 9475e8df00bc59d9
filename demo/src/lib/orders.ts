/**
 * The marketplace's data: products and orders through supabase-js, with Row Level Security deciding
 * who sees what (buyers their orders, sellers the orders of their products, admins all). Every order
 * query key starts with `'orders'`: the counters invalidate `['orders']` when they move, so the lists
 * refresh on their own when an order is placed, shipped or cancelled anywhere.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { supabase } from '../supabase.ts';

export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'cancelled';

/** Open orders: the ones a seller still has to ship. */
export const openStatuses: readonly OrderStatus[] = ['pending', 'paid'];

export interface Product {
  id: string;
  name: string;
  price_cents: number;
  seller_id: string;
  seller: { display_name: string | null } | null;
}

export interface Order {
  id: string;
  /** The short number people read ("#1003"). */
  number: number;
  status: OrderStatus;
  region: string | null;
  created_at: string;
  buyer_id: string;
  product_id: string;
  product: { id: string; name: string; price_cents: number; seller_id: string } | null;
  buyer?: { display_name: string | null; email: string | null } | null;
}

const fail = (what: string, error: { message: string }) => new Error(`${what}: ${error.message}`);

export function useProducts() {
  return useQuery({
    queryKey: ['products'],
    queryFn: async (): Promise<Product[]> => {
      const { data, error } = await supabase
        .from('products')
        .select('id, name, price_cents, seller_id, seller:profiles(display_name)')
        .order('name');
      if (error) throw fail('products', error);
      return data as unknown as Product[];
    },
  });
}

const orderColumns = 'id, number, status, region, created_at, buyer_id, product_id';

/** The signed-in buyer's orders, newest first. */
export function useMyOrders(userId: string) {
  return useQuery({
    queryKey: ['orders', 'mine', userId],
    queryFn: async (): Promise<Order[]> => {
      const { data, error } = await supabase
        .from('orders')
        .select(`${orderColumns}, product:products(id, name, price_cents, seller_id)`)
        .eq('buyer_id', userId)
        .order('created_at', { ascending: false })
        .limit(100);
      if (error) throw fail('orders', error);
      return data as unknown as Order[];
    },
  });
}

/** Orders of the signed-in seller's products, newest first. */
export function useSellerOrders(userId: string) {
  return useQuery({
    queryKey: ['orders', 'selling', userId],
    queryFn: async (): Promise<Order[]> => {
      const { data, error } = await supabase
        .from('orders')
        .select(
          `${orderColumns}, product:products!inner(id, name, price_cents, seller_id), buyer:profiles(display_name, email)`,
        )
        .eq('product.seller_id', userId)
        .order('created_at', { ascending: false })
        .limit(100);
      if (error) throw fail('orders', error);
      return data as unknown as Order[];
    },
  });
}

/** The latest orders the user may see (all of them for an admin): what preview and trigger pick from. */
export function useRecentOrders(enabled = true) {
  return useQuery({
    queryKey: ['orders', 'recent'],
    enabled,
    queryFn: async (): Promise<Order[]> => {
      const { data, error } = await supabase
        .from('orders')
        .select(`${orderColumns}, product:products(id, name, price_cents, seller_id)`)
        .order('created_at', { ascending: false })
        .limit(25);
      if (error) throw fail('orders', error);
      return data as unknown as Order[];
    },
  });
}

/**
 * Places an order (the region is the buyer's, set by the database); its events and counters follow
 * from the database triggers.
 */
export function usePlaceOrder(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (product: Product) => {
      const { data, error } = await supabase
        .from('orders')
        .insert({ buyer_id: userId, product_id: product.id })
        .select('id')
        .single();
      if (error) throw fail(`order ${product.name}`, error);
      return { id: (data as { id: string }).id, product };
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['orders'] }),
  });
}

/**
 * A status change: the seller marks paid, ships or cancels; the buyer cancels an open order. RLS
 * refuses the rest (another seller's orders, a buyer shipping).
 */
export function useSetOrderStatus() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ order, status }: { order: Order; status: OrderStatus }) => {
      const { data, error } = await supabase
        .from('orders')
        .update({ status })
        .eq('id', order.id)
        .select('id');
      if (error) throw fail(`order #${order.number}`, error);
      if (!data || data.length === 0) throw new Error(`order #${order.number}: not yours to change`);
      return { order, status };
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['orders'] }),
  });
}
