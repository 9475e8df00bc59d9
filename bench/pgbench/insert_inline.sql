\set uid random(1, 1000)
insert into bench.inline (user_id, amount) values (('00000000-0000-0000-0000-' || lpad(:uid::text, 12, '0'))::uuid, :uid);
