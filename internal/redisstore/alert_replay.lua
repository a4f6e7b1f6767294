-- Queues a delivered or dead alert again, behind its queue's others.
-- KEYS[1] alert hash, [2] queue, [3] due, [4] dead letters
-- ARGV[1] id, [2] now ms, [3] queue member
-- Returns 0 no such alert, 1 queued, 2 still pending.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
if state == 'pending' then return 2 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'since', ARGV[2], 'error', '', 'status', 0)
redis.call('HDEL', KEYS[1], 'done', 'next')
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[3])
return 1
