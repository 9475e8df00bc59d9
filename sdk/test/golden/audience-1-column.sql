select s.occurrence_id, (s.r).user_id::uuid as user_id, null::text as address
from src s
where (s.r).user_id is not null
