package outbox

import "github.com/redis/go-redis/v9"

// appendScript checks capacity and appends the whole batch atomically, so a
// batch is either queued entirely or refused entirely.
// KEYS[1] outbox; ARGV[1] capacity; ARGV[2] tenant; ARGV[3..] fix JSON.
// Returns {1, newLen} when appended, {0, len} when it would not fit.
var appendScript = redis.NewScript(`
local n = #ARGV - 2
local len = redis.call('XLEN', KEYS[1])
if len + n > tonumber(ARGV[1]) then
  return {0, len}
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'fix', ARGV[i], 'tenant', ARGV[2])
end
return {1, len + n}
`)

// ackScript removes acknowledged entries. When they are exactly the oldest
// entries (the forwarder's normal case) one XTRIM MINID frees them; otherwise
// XDEL, in chunks because Lua's unpack has a stack limit.
// KEYS[1] outbox; ARGV[1] the id just after the last one; ARGV[2..] ids, ascending.
var ackScript = redis.NewScript(`
local n = #ARGV - 1
local head = redis.call('XRANGE', KEYS[1], '-', ARGV[#ARGV], 'COUNT', n + 1)
local contiguous = (#head == n)
if contiguous then
  for i = 1, n do
    if head[i][1] ~= ARGV[i + 1] then contiguous = false; break end
  end
end
if contiguous then
  return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
end
local removed = 0
for i = 2, #ARGV, 500 do
  removed = removed + redis.call('XDEL', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
return removed
`)

// deadLetterScript moves entries to the dead-letter stream, keeping every
// original field and adding why, then counts them. Entries already gone
// (acked meanwhile) are skipped.
// KEYS[1] outbox, KEYS[2] dead-letter stream, KEYS[3] counter;
// ARGV[1] time (RFC 3339), ARGV[2] HTTP status or "", ARGV[3] response body,
// ARGV[4] dead-letter cap (0 = none); then pairs of id, reason.
var deadLetterScript = redis.NewScript(`
local maxlen = tonumber(ARGV[4])
local moved = 0
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 1 then
    local src = found[1][2]
    local fields = {}
    for j = 1, math.min(#src, 512) do fields[j] = src[j] end
    local extra = {'dl_id', id, 'dl_reason', ARGV[i + 1], 'dl_status', ARGV[2], 'dl_body', ARGV[3], 'dl_at', ARGV[1]}
    for _, v in ipairs(extra) do fields[#fields + 1] = v end
    if maxlen > 0 then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', unpack(fields))
    else
      redis.call('XADD', KEYS[2], '*', unpack(fields))
    end
    redis.call('XDEL', KEYS[1], id)
    moved = moved + 1
  end
end
if moved > 0 then
  redis.call('INCRBY', KEYS[3], moved)
end
return moved
`)
