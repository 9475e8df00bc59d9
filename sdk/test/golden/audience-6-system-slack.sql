select s.occurrence_id, null::uuid as user_id, v.address
from src s
cross join (values ('secret:SLACK_OPS_WEBHOOK_URL')) as v(address)
