select s.occurrence_id, f.user_id::uuid as user_id, null::text as address
from src s
cross join lateral public.on_duty_admins((s.r).region) as f(user_id)
where f.user_id is not null
