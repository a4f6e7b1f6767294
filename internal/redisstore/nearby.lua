-- Nearby search in one round trip: GEOSEARCH the tenant's geo set, then the
-- latest fix JSON of each hit from the last hash.
-- KEYS[1] geo, KEYS[2] last; ARGV lon, lat, radius (m), count.
-- Returns a flat list: distance (m, string), fix JSON, ... nearest first.
--
-- GEOSEARCH's cost grows with the members in the area it scans, and the
-- answer only needs the nearest COUNT. So it first searches a quarter of the
-- radius: when that already holds COUNT devices, they are the answer (any
-- device outside the smaller circle is farther than all of them). Otherwise
-- it searches again with the radius the density seen suggests, and finally
-- with the full radius. In sparse areas this costs one or two small extra
-- searches; in dense ones it scans a fraction of the members.
local radius, count = tonumber(ARGV[3]), tonumber(ARGV[4])
local function search(r)
  return redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
    'BYRADIUS', r, 'm', 'ASC', 'COUNT', count, 'WITHDIST')
end
local r = radius / 4
local hits
if r >= 50 then
  hits = search(r)
  if #hits < count then
    -- Devices per area seen so far → the radius that should hold count,
    -- with a margin; at least twice the probe.
    local guess = r * 2
    if #hits > 0 then guess = math.max(guess, r * math.sqrt(count / #hits) * 1.25) end
    if guess < radius then
      hits = search(guess)
      if #hits < count then hits = search(radius) end
    else
      hits = search(radius)
    end
  end
else
  hits = search(radius)
end
local out = {}
local CHUNK = 500
for i = 1, #hits, CHUNK do
  local j = math.min(i + CHUNK - 1, #hits)
  local names = {}
  for k = i, j do names[#names + 1] = hits[k][1] end
  local vals = redis.call('HMGET', KEYS[2], unpack(names))
  for k = i, j do
    local v = vals[k - i + 1]
    if v then -- a device erased meanwhile has no latest fix
      out[#out + 1] = hits[k][2]
      out[#out + 1] = v
    end
  end
end
return out
