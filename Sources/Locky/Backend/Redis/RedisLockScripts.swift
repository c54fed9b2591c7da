import LockyRedis

/// Every Lua script of the Redis backend, in one place.
///
/// Keys and values reach the scripts only as `KEYS` and `ARGV`, never by building Lua text.
/// Each script checks everything before it writes, so an error reply never leaves half a change
/// (short of someone overwriting a fence or queue key of ours with another type of value).
/// Scripts over many resources check them with one `EXISTS` or `MGET` and write fence counters
/// with one `MSET`: per resource, only the `SET … PX` of its lock key is a call of its own
/// (Redis 7.0 has no multi-key expiry), which makes most of a batch's server time.
enum RedisLockScripts {
    /// Every script, loaded on each connection before use (``RedisClient/preload(_:)``).
    static var all: [RedisScript] {
        [
            acquire, lock, extend, renew, release, unlock, acquireFair, leaveQueue, refresh, inspect, fencedWrite, fencedRead,
            raiseFences, fencedUndo,
        ]
    }

    // Lua helpers, prepended to the scripts that use them: each `local function` costs the
    // server a closure on every call, so a script carries only what it calls.

    /// Reads many keys with `MGET`, in chunks (Lua's `unpack` has a stack limit). One call per
    /// thousand keys instead of one per key: what keeps a 100-resource batch near one round trip.
    /// Also `mset`, its writing twin.
    private static let mget = """
        local function mget(first, last)
          local values = {}
          for from = first, last, 1000 do
            local chunk = redis.call('MGET', unpack(KEYS, from, math.min(from + 999, last)))
            for i = 1, #chunk do values[#values + 1] = chunk[i] end
          end
          return values
        end
        local function mset(items)
          for from = 1, #items, 2000 do
            redis.call('MSET', unpack(items, from, math.min(from + 1999, #items)))
          end
        end

        """

    /// Builds and publishes a lock event (for events that depend on what the script found).
    private static let publish = """
        -- Lock events: kind ('L' locked, 'U' unlocked, 'T' a TTL shortened), then length-prefixed fields
        -- (`<len>:<bytes>`, binary-safe): the TTL in ms, the holder's public name, the attempt
        -- tag, the lock keys.
        local function publish(channel, kind, ttl, who, tag, keys)
          if #keys == 0 or channel == '' then return end
          local parts = {kind, string.len(ttl), ':', ttl, string.len(who), ':', who, string.len(tag), ':', tag}
          for i = 1, #keys do
            parts[#parts + 1] = string.len(keys[i]) .. ':' .. keys[i]
          end
          redis.call('PUBLISH', channel, table.concat(parts))
        end

        """

    /// Publishes the `T` event of the lock keys `keys` whose TTL was shortened to `ttl` ms (after
    /// ``publish``, whose helper it calls), and tells the first fair waiter of each the same on
    /// its client's wake channel (`prefix` .. client token; '' for none) with an `S` message
    /// (TTL, key, waiter): that waiter watches the holder's expiry, but listens to its wake
    /// channel alone. The queue key is the lock key's with its suffix, in the same hash slot
    /// (as the fair scripts' fence and waiters keys). pcall: a queue key of another type is
    /// not ours to read, and tells nobody.
    private static let shorten = """
        local function shorten(channel, prefix, ttl, tag, keys)
          publish(channel, 'T', ttl, '', tag, keys)
          if prefix == '' then return end
          for i = 1, #keys do
            local heads = redis.pcall('ZRANGE', keys[i] .. '\(LockKeyspace.queueSuffix)', 0, 0)
            local head = type(heads) == 'table' and heads[1]
            local token = head and string.match(head, '^([^.]+)%.')
            if token then
              \(tellExpiry("prefix .. token", ttl: "ttl", key: "keys[i]", waiter: "head"))
            end
          end
        end

        """

    /// Lua that tells the fair waiter `waiter`, on its client's wake channel `channel`, that the
    /// lock key `key` now expires in `ttl` ms (each a Lua expression; `ttl` a string or an
    /// integer): an `S` message, so the waiter watches that expiry.
    private static func tellExpiry(_ channel: String, ttl: String, key: String, waiter: String) -> String {
        tellWaiter(channel, "'S', string.len(\(ttl)), ':', \(ttl)", key: key, waiter: waiter)
    }

    /// Lua that tells the fair waiter `waiter`, on `channel`, that the lock key `key` is free to
    /// try: an `H` message with a TTL of 0, no holder and no tag, as a release's.
    private static func tellFree(_ channel: String, key: String, waiter: String) -> String {
        tellWaiter(channel, "'H1:00:0:'", key: key, waiter: waiter)
    }

    /// Publishes `head` (Lua list items) and then `key` and `waiter` length-prefixed
    /// (`<len>:<bytes>`), as the wake handler reads them: the one spelling of the messages to a
    /// waiter for every script that sends one.
    private static func tellWaiter(_ channel: String, _ head: String, key: String, waiter: String) -> String {
        "redis.call('PUBLISH', \(channel), table.concat({\(head), string.len(\(key)), ':', \(key), string.len(\(waiter)), ':', \(waiter)}))"
    }

    /// Lua that sets the expiry of the lock key `key` to `ttl` ms from now (a string or a number)
    /// and evaluates to true when that is earlier than before (a key without expiry included).
    /// `GT` first: a new TTL that lengthens the lock, the common case (every renewal), costs the
    /// one call it always did; only one that does not takes a second call (`LT`, which sets it
    /// when earlier; equal needs nothing). Those options came with Redis 7.0, as did
    /// `redis.REDIS_VERSION_NUM`: an older server sets the TTL with a plain `PEXPIRE` and
    /// evaluates to false (no `T` event; such a lock expires on Redis's own schedule, as before).
    private static func shortens(_ key: String, _ ttl: String) -> String {
        "(redis.REDIS_VERSION_NUM and (redis.call('PEXPIRE', \(key), \(ttl), 'GT') == 0 and redis.call('PEXPIRE', \(key), \(ttl), 'LT') == 1)"
            + " or (not redis.REDIS_VERSION_NUM and redis.call('PEXPIRE', \(key), \(ttl)) < 0))"
    }

    /// Deletes many keys in chunks (Lua's `unpack` has a stack limit), and counts existing ones.
    private static let del = """
        local function del(keys, first, last)
          for from = first, last, 1000 do
            redis.call('DEL', unpack(keys, from, math.min(from + 999, last)))
          end
        end
        local function exists(keys, first, last)
          local count = 0
          for from = first, last, 1000 do
            count = count + redis.call('EXISTS', unpack(keys, from, math.min(from + 999, last)))
          end
          return count
        end

        """

    /// The fair queue's helpers: the server's clock, and removing a waiter.
    private static let fairQueue = """
        local function nowMs()
          local time = redis.call('TIME')
          return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        end
        -- A fair waiter's fields in the waiters hash: `<id>` its liveness deadline (server ms),
        -- `<id>#g` what a hand-off needs (`<ttl ms>:<attempt>:<owner>`), `<id>#e` its `L` event.
        local function forget(queue, waiters, id)
          redis.call('ZREM', queue, id); redis.call('HDEL', waiters, id, id .. '#g', id .. '#e')
        end

        """

    /// The fair hand-off (after ``fairQueue``, whose helpers it calls).
    private static let handOff = """
        local function field(text)
          return string.len(text) .. ':' .. text
        end
        -- Fair hand-off of a free lock: the first live waiter of the queue gets it inside this
        -- script, so it needs no round trip of its own. Live means within its liveness deadline
        -- and its client still subscribed to its wake channel: a crashed process has lost its
        -- connection, so it is evicted, never handed a lock it cannot use. The waiter learns of
        -- it from a `G` message (token, attempt, key, waiter). Returns the waiter and its `L`
        -- event, or false. A waiter without hand-off fields, a server that will not answer
        -- PUBSUB NUMSUB (ACL), or a fence key that is no counter gets the old wake-up (`H`),
        -- and the waiter acquires on its own (and is told what is wrong).
        local function handOff(lock, fence, queue, waiters, prefix)
          local now
          while true do
            local head = redis.call('ZRANGE', queue, 0, 0)[1]
            if not head then return false end
            local info = redis.call('HMGET', waiters, head, head .. '#g', head .. '#e')
            now = now or nowMs()
            local token = string.match(head, '^([^.]+)%.')
            local channel = token and prefix ~= '' and (prefix .. token)
            local live = -1
            if channel and tonumber(info[1] or '0') >= now then
              local answer = redis.pcall('PUBSUB', 'NUMSUB', channel)
              if type(answer) == 'table' then live = tonumber(answer[2]) or -1 end
            else
              live = 0
            end
            if live == 0 then
              forget(queue, waiters, head)
            else
              -- The token first: a fence key that is no counter fails INCR, and then nothing was set.
              local granted = live > 0 and info[2] and redis.pcall('INCR', fence)
              if type(granted) == 'number' then
                local ttl, attempt, owner = string.match(info[2], '^(%d+):(%d+):(.*)$')
                if ttl == '0' then redis.call('SET', lock, owner) else redis.call('SET', lock, owner, 'PX', ttl) end
                forget(queue, waiters, head)
                redis.call('PUBLISH', channel, 'G' .. field(string.format('%d', granted)) .. field(attempt) .. field(lock) .. field(head))
                -- The waiter behind is first now, and no release names it while the new holder
                -- holds the lock: told its expiry (`S`), it watches it in case that holder crashes.
                local after = ttl ~= '0' and redis.call('ZRANGE', queue, 0, 0)[1]
                local afterToken = after and string.match(after, '^([^.]+)%.')
                if afterToken then
                  \(tellExpiry("prefix .. afterToken", ttl: "ttl", key: "lock", waiter: "after"))
                end
                return head, info[3]
              end
              \(tellFree("channel", key: "lock", waiter: "head"))
              return head, false
            end
          end
        end

        """

    /// The all-free fast path of the scripts that take locks (``acquire``, ``lock``). KEYS: the
    /// n lock keys, then the n fence keys (`n` a local of the script). ARGV[1]: owner. ARGV[2]:
    /// TTL in ms, 0 for none. When no lock key exists (one `EXISTS`, which answers a number, not
    /// a table) and every fence key holds a counter (``countFences``, else `{-2, index}`), sets
    /// each for the owner without a check of its own, counts its fence, leaves
    /// the new tokens in `granted`, then runs `finish` (the script's event and reply). Lua text,
    /// not a `local function`, which would cost a closure per call. Up to 1,000 keys, as Lua's
    /// `unpack` has a stack limit; larger batches take the script's general path.
    private static func whenAllFree(_ finish: String) -> String {
        """
        if n <= 1000 and redis.call('EXISTS', unpack(KEYS, 1, n)) == 0 then
          local fences = redis.call('MGET', unpack(KEYS, n + 1, 2 * n))
        \(countFences)  local expires = tonumber(ARGV[2]) > 0
          local granted = {}
          local counters = {}
          for i = 1, n do
            -- SET, not the slightly cheaper PSETEX: the documented least-privilege ACL has no +psetex.
            if expires then redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) else redis.call('SET', KEYS[i], ARGV[1]) end
            granted[i] = counts[i] + 1
            counters[2 * i - 1] = KEYS[n + i]; counters[2 * i] = granted[i]
          end
          redis.call('MSET', unpack(counters))
        \(finish)
        end

        """
    }

    /// The fence counters of the n resources about to be taken, read before anything is
    /// written: `fences` (MGET's answer for `KEYS[n + 1 …]`) becomes `counts`. A fence key that
    /// holds no counter (a string that is no integer, or a key of another type, which MGET reads
    /// as missing) ends the script with `{-2, index}`: its count is unknown, and Locky will not
    /// overwrite it, as the lone INCR of a single resource refuses to. Lua text, like
    /// ``whenAllFree(_:)``; chunked like the helpers.
    private static let countFences = """
        local counts = {}
        local unread = {}
        for i = 1, n do
          local fence = fences[i]
          local count = 0
          if fence then
            count = tonumber(fence)
            -- An integer, exact in a Lua number (a double), as INCR would take it.
            if not count or count % 1 ~= 0 or math.abs(count) >= 9007199254740992 then return {-2, i} end
          else
            unread[#unread + 1] = KEYS[n + i]
          end
          counts[i] = count
        end
        for from = 1, #unread, 1000 do
          if redis.call('EXISTS', unpack(unread, from, math.min(from + 999, #unread))) > 0 then
            for i = 1, n do
              if not fences[i] and redis.call('EXISTS', KEYS[n + i]) == 1 then return {-2, i} end
            end
          end
        end

        """

    /// Lua that sets `variable` to the counter `value` holds (a GET's answer, or a pcall's error),
    /// or 0 when it holds none: a holder's token as far as it can be read, for a reply that
    /// reports it (never one that counts on it, which ``countFences`` checks).
    private static func knownCount(_ value: String, into variable: String) -> String {
        """
        local \(variable) = tonumber(\(value)) or 0
        if \(variable) % 1 ~= 0 or math.abs(\(variable)) >= 9007199254740992 then \(variable) = 0 end
        """
    }

    /// Lua for a single resource's INCR of its fence key (`KEYS[2]`) into `token`, with pcall.
    /// When it fails, runs `undo`, then ends the script with `{-2, 1}` if the key holds no
    /// counter, or else passes the error on (an ACL without INCR): either way nothing is left
    /// half done. Told apart by reading the key, not by the error's text.
    private static func incrementFence(undo: String) -> String {
        """
        local token = redis.pcall('INCR', KEYS[2])
        if type(token) ~= 'number' then
          \(undo)
          local fence = redis.pcall('GET', KEYS[2])
          local count = type(fence) == 'string' and tonumber(fence)
          if not fence or count and count % 1 == 0 then return token end
          return {-2, 1}
        end
        """
    }

    /// All-or-nothing acquire.
    /// KEYS: the n lock keys, then the n fence keys. ARGV[1]: owner. ARGV[2]: TTL in ms, 0 for none.
    /// ARGV[3]: event channel ('' for none). ARGV[4]: the `L` event, built by the client
    /// (``LockEventCodec``), so the script spends no time on strings.
    /// Returns, for one resource, the fencing token as a bare integer (a table costs the server
    /// more than the rest of the call); for several `{1, token₁, …, tokenₙ}`. When busy
    /// `{0, index, holder, pttl, holderToken}`; `{-1, index}` when a lock key holds another type
    /// of value, `{-2, index}` when a fence key holds no counter (nothing is changed).
    static let acquire = RedisScript(
        name: "acquire",
        source: """
            local owner = ARGV[1]
            -- The TTL goes to Redis as the string it came as (a Lua number would be formatted again).
            local ttl = tonumber(ARGV[2])
            local n = #KEYS / 2
            if n == 1 then
              -- One resource, the common case: the fewest calls.
              local set
              if ttl > 0 then set = redis.call('SET', KEYS[1], owner, 'NX', 'PX', ARGV[2]) else set = redis.call('SET', KEYS[1], owner, 'NX') end
              if not set then
                -- pcall: a key of another type answers GET with an error; it is not ours to touch.
                local holder = redis.pcall('GET', KEYS[1])
                if type(holder) ~= 'string' then return {-1, 1} end
                if holder ~= owner then
                  -- pcall: a fence key of another type.
                  \(knownCount("redis.pcall('GET', KEYS[2])", into: "token"))
                  return {0, 1, holder, redis.call('PTTL', KEYS[1]), token}
                end
              end
              -- A failed INCR gives back the key just taken.
              \(incrementFence(undo: "if set then redis.call('DEL', KEYS[1]) end"))
              if not set then
                if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
              end
              if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
              return token
            end
            -- Several resources. The common case first: all free.

            """
                + whenAllFree(
                    """
                    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
                    return {1, unpack(granted)}
                    """) + """
                    -- Some key exists (held, ours already, or of another type): the helpers, which
                    -- cost a closure per call, and a check per key.

                    """ + mget + del + """
                    local holders = mget(1, n)
                    local missing = {}
                    for i = 1, n do
                      local holder = holders[i]
                      if holder and holder ~= owner then
                        \(knownCount("redis.pcall('GET', KEYS[n + i])", into: "token"))
                        return {0, i, holder, redis.call('PTTL', KEYS[i]), token}
                      end
                      if not holder then missing[#missing + 1] = KEYS[i] end
                    end
                    -- MGET reads a key of another type as missing. It is not ours to replace, and
                    -- it is found before anything is written (one EXISTS over the keys read as
                    -- missing), so this error leaves every key as it was, the TTL of one the owner
                    -- already holds included.
                    if exists(missing, 1, #missing) > 0 then
                      for i = 1, n do
                        if not holders[i] and redis.call('EXISTS', KEYS[i]) == 1 then return {-1, i} end
                      end
                    end
                    local fences = mget(n + 1, 2 * n)

                    """ + countFences + """
                    local reply = {1}
                    local tokens = {}
                    for i = 1, n do
                      if ttl > 0 then redis.call('SET', KEYS[i], owner, 'PX', ARGV[2]) else redis.call('SET', KEYS[i], owner) end
                      local token = counts[i] + 1
                      reply[i + 1] = token
                      tokens[2 * i - 1] = KEYS[n + i]
                      -- A Lua number reaches Redis as its decimal digits (exact below 2^53).
                      tokens[2 * i] = token
                    end
                    mset(tokens)
                    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
                    return reply
                    """
    )

    /// The locker API's lock, per resource.
    /// KEYS: the n lock keys, then the n fence keys. ARGV[1]: locker. ARGV[2]: TTL in ms, 0
    /// for none. ARGV[3]: `1` to force. ARGV[4]: event channel. ARGV[5]: the `L` event of all
    /// the resources, built by the client (``LockEventCodec``), published when all were free.
    /// ARGV[6]: the event's attempt tag (for the event of the resources taken when some were not).
    /// ARGV[7]: wake channel prefix.
    /// Publishes the `T` event of the keys the locker held whose TTL the reset shortened, and of
    /// those taken over by force with an earlier expiry than their holder's (``shorten``).
    /// Returns 4 entries per resource: `code, holder, pttl, token` with code 1 acquired,
    /// 2 already held by the locker (TTL reset), 0 busy (holder and its TTL, nothing changed).
    /// `{-1, index}` when a lock key holds another type of value, `{-2, index}` when a fence
    /// key holds no counter: nothing is changed, as acquire does.
    static let lock = RedisScript(
        name: "lock",
        source: """
            local n = #KEYS / 2
            -- The common case first: every key free, which skips the helpers below (a closure
            -- each per call): about 28 % less server time than the general path.

            """
                + whenAllFree(
                    """
                    local reply = {}
                    for i = 1, n do
                      reply[4 * i - 3] = 1; reply[4 * i - 2] = false; reply[4 * i - 1] = 0; reply[4 * i] = granted[i]
                    end
                    if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
                    return reply
                    """) + mget + del + publish + shorten + """
                    local locker = ARGV[1]
                    local ttl = tonumber(ARGV[2])
                    local force = ARGV[3] == '1'
                    local holders = mget(1, n)
                    -- MGET reads a key of another type as missing. It is not a lock, and not ours
                    -- to replace: found before anything is written, it fails the call (as acquire).
                    local missing = {}
                    for i = 1, n do
                      if not holders[i] then missing[#missing + 1] = KEYS[i] end
                    end
                    if exists(missing, 1, #missing) > 0 then
                      for i = 1, n do
                        if not holders[i] and redis.call('EXISTS', KEYS[i]) == 1 then return {-1, i} end
                      end
                    end
                    local fences = mget(n + 1, 2 * n)

                    """ + countFences + """
                    local reply = {}
                    local tokens = {}
                    local taken = {}
                    local shortened = {}
                    for i = 1, n do
                      local key, holder = KEYS[i], holders[i]
                      local token = counts[i]
                      if holder == locker then
                        if ttl <= 0 then
                          redis.call('PERSIST', key)
                        elseif \(shortens("key", "ttl")) then
                          table.insert(shortened, key)
                        end
                        table.insert(reply, 2); table.insert(reply, false); table.insert(reply, 0); table.insert(reply, token)
                      elseif holder and not force then
                        table.insert(reply, 0); table.insert(reply, holder); table.insert(reply, redis.call('PTTL', key))
                        table.insert(reply, token)
                      else
                        -- Taken over (force) with an earlier expiry than the old holder's: news
                        -- for the waiters' timers armed at the old one, as a shortened TTL is.
                        if holder and ttl > 0 then
                          local left = redis.call('PTTL', key)
                          if left == -1 or left > ttl then table.insert(shortened, key) end
                        end
                        if ttl > 0 then redis.call('SET', key, locker, 'PX', ttl) else redis.call('SET', key, locker) end
                        token = token + 1
                        table.insert(taken, key)
                        table.insert(tokens, KEYS[n + i]); table.insert(tokens, string.format('%d', token))
                        table.insert(reply, 1); table.insert(reply, false); table.insert(reply, 0); table.insert(reply, token)
                      end
                    end
                    mset(tokens)
                    publish(ARGV[4], 'L', ARGV[2], locker, ARGV[6], taken)
                    if #shortened > 0 then shorten(ARGV[4], ARGV[7], ARGV[2], ARGV[6], shortened) end
                    return reply
                    """
    )

    /// All-or-nothing, owner-checked extend.
    /// KEYS: lock keys. ARGV[1]: owner. ARGV[2]: ms. ARGV[3]: `set` (expire ms from now) or
    /// `add` (ms later than now's expiry). ARGV[4]: `1` to re-create a missing key for `owner`
    /// (Redlock: a node that restarted empty gets the lock back; redsync's SetNXOnExtend).
    /// ARGV[5]: event channel ('' for none). ARGV[6]: the attempt tag of the `T` event it
    /// publishes for the keys whose expiry became earlier (a `set` to less than was left, an
    /// `add` to a key without expiry): the expiry watchers and the waiters learn their new
    /// deadline (``shorten``). ARGV[7]: wake channel prefix.
    /// Returns `{1, least}` (`least`: the shortest time in ms any of the keys now has left; for
    /// Redlock, whose `add` lengthens each node's key from that node's own expiry, which can
    /// be behind the others'), or `{0, index, holder, pttl}`.
    static let extend = RedisScript(
        name: "extend",
        source: publish + shorten + """
            local owner = ARGV[1]
            local ms = tonumber(ARGV[2])
            local recreate = ARGV[4] == '1'
            local shortened
            local least
            for i = 1, #KEYS do
              local holder = redis.call('GET', KEYS[i])
              if holder ~= owner then
                if holder then return {0, i, holder, redis.call('PTTL', KEYS[i])} end
                if not recreate then return {0, i, false, 0} end
              end
            end
            for i = 1, #KEYS do
              local left = ms
              if redis.call('EXISTS', KEYS[i]) == 0 then
                redis.call('SET', KEYS[i], owner, 'PX', ms)
              elseif ARGV[3] == 'add' then
                local pttl = redis.call('PTTL', KEYS[i])
                -- No expiry until now: any is earlier.
                if pttl == -1 then shortened = shortened or {}; shortened[#shortened + 1] = KEYS[i] end
                if pttl < 0 then pttl = 0 end
                redis.call('PEXPIRE', KEYS[i], pttl + ms)
                left = pttl + ms
              elseif \(shortens("KEYS[i]", "ms")) then
                shortened = shortened or {}; shortened[#shortened + 1] = KEYS[i]
              end
              if not least or left < least then least = left end
            end
            if shortened then shorten(ARGV[5], ARGV[7], ARGV[2], ARGV[6], shortened) end
            return {1, least}
            """
    )

    /// Batch renewal of many leases.
    /// KEYS: lock keys. ARGV[i]: the owner of KEYS[i]; ARGV[n + i]: its TTL in ms; ARGV[2n + 1]:
    /// `1` to re-create missing keys (see ``extend``); ARGV[2n + 2]: event channel ('' for none),
    /// where a renewal that makes a lock expire earlier (rare: a TTL shorter than was left)
    /// publishes its `T` event (without attempt tag), for the expiry watchers and the waiters
    /// (``shorten``); ARGV[2n + 3]: wake channel prefix.
    /// Returns 2 entries per key: `code, holder` with code 1 renewed, 0 missing, 2 held by
    /// another, 3 re-created.
    static let renew = RedisScript(
        name: "renew",
        source: mget + publish + shorten + """
            local n = #KEYS
            local recreate = ARGV[2 * n + 1] == '1'
            local holders = mget(1, n)
            local reply = {}
            for i = 1, n do
              local holder = holders[i]
              if holder == ARGV[i] then
                if \(shortens("KEYS[i]", "ARGV[n + i]")) then
                  shorten(ARGV[2 * n + 2], ARGV[2 * n + 3], ARGV[n + i], '', {KEYS[i]})
                end
                table.insert(reply, 1); table.insert(reply, false)
              elseif holder then
                table.insert(reply, 2); table.insert(reply, holder)
              -- NX: MGET reads a key of another type as missing; such a key is not ours to replace.
              elseif recreate and redis.call('SET', KEYS[i], ARGV[i], 'NX', 'PX', ARGV[n + i]) then
                table.insert(reply, 3); table.insert(reply, false)
              else
                table.insert(reply, 0); table.insert(reply, false)
              end
            end
            return reply
            """
    )

    /// Unlock of one resource, unconditional or owner-checked, with the fair hand-off: a
    /// waiting fair waiter gets the lock in this same script (``handOff``).
    /// KEYS: lock key, fence key, fair queue, fair waiters. ARGV[1]: owner, or empty for
    /// unconditional. ARGV[2]: event channel. ARGV[3]: wake channel prefix. ARGV[4]: the `H`
    /// event up to the next waiter's field, built by the client (``LockEventCodec``).
    /// Returns 1 unlocked, 0 not locked, or `{2, holder, pttl}` when held by another (nothing
    /// changed). Publishes `unlocked` (naming the waiter handed the lock, if any), then that
    /// waiter's `locked`.
    static let release = RedisScript(
        name: "release",
        source: """
            local owner = ARGV[1]
            -- pcall: GET of a key of another type is an error, and such a key is not a lock. A bare
            -- string, unlike MGET's table, leaves the server's Lua no garbage to collect.
            local holder = redis.pcall('GET', KEYS[1])
            if type(holder) ~= 'string' then return 0 end
            if owner ~= '' and holder ~= owner then return {2, holder, redis.call('PTTL', KEYS[1])} end
            redis.call('DEL', KEYS[1])
            -- Nobody queued, the common case: done before the hand-off's helpers are defined
            -- (each `local function` costs a closure per call; this saves 3-5 µs of 21-24). An
            -- empty queue does not exist (Redis deletes empty sorted sets); EXISTS answers a number.
            if redis.call('EXISTS', KEYS[3]) == 0 then
              if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[4] .. '0:') end
              return 1
            end

            """ + fairQueue + handOff + """
                local next, event = handOff(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[3])
                if ARGV[2] ~= '' then
                  redis.call('PUBLISH', ARGV[2], ARGV[4] .. field(next or ''))
                  if event then redis.call('PUBLISH', ARGV[2], event) end
                end
                return 1
                """
    )

    /// Unlock of several resources, unconditional or owner-checked, per resource.
    /// KEYS: the n lock keys, then the n fair-queue keys. ARGV[1]: owner, or empty for
    /// unconditional. ARGV[2]: event channel. ARGV[3]: wake channel prefix. ARGV[4]: the `U`
    /// event of all keys, built by the client (``LockEventCodec``). ARGV[5]: its attempt tag.
    /// Returns 1 when every resource was unlocked (the common case, and the cheapest reply);
    /// else 3 entries per resource: `code, holder, pttl` with code 1 unlocked, 0 not locked,
    /// 2 held by another (owner-checked only; nothing changed).
    /// A released key with fair waiters goes to the first live one in this same script, as in
    /// ``release`` (``handOff``; its fence and waiters keys share the lock key's hash tag). The
    /// `H` event names, per released key, the waiter it went to or was woken ('' for none),
    /// followed by that waiter's `L` event.
    static let unlock = RedisScript(
        name: "unlock",
        source: mget + del + """
            local owner = ARGV[1]
            local n = #KEYS / 2
            local holders = mget(1, n)
            if exists(KEYS, n + 1, 2 * n) == 0 then
              -- The common case, all ours and nobody queued: no per-key work beyond the check,
              -- and none of the helpers below (each costs a closure per call): a third to a
              -- half of the general path's server time for 2 to 16 resources.
              local all = true
              for i = 1, n do
                if not holders[i] or (owner ~= '' and holders[i] ~= owner) then all = false; break end
              end
              if all then
                del(KEYS, 1, n)
                if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[4]) end
                return 1
              end
            end

            """ + publish + fairQueue + handOff + """
                local reply = {}
                local gone = {}
                local handed = {}
                local hints = {}
                local events = {}
                for i = 1, n do
                  local holder = holders[i]
                  if not holder then
                    table.insert(reply, 0); table.insert(reply, false); table.insert(reply, 0)
                  elseif owner == '' or holder == owner then
                    if redis.call('ZRANGE', KEYS[n + i], 0, 0)[1] then
                      table.insert(handed, i)
                    else
                      table.insert(gone, KEYS[i]); table.insert(hints, KEYS[i]); table.insert(hints, '')
                    end
                    table.insert(reply, 1); table.insert(reply, false); table.insert(reply, 0)
                  else
                    table.insert(reply, 2); table.insert(reply, holder); table.insert(reply, redis.call('PTTL', KEYS[i]))
                  end
                end
                del(gone, 1, #gone)
                for _, i in ipairs(handed) do
                  redis.call('DEL', KEYS[i])
                  local next, event = handOff(KEYS[i], KEYS[i] .. '\(LockKeyspace.fenceSuffix)', KEYS[n + i], KEYS[i] .. '\(LockKeyspace.waitersSuffix)', ARGV[3])
                  table.insert(hints, KEYS[i]); table.insert(hints, next or '')
                  if event then table.insert(events, event) end
                end
                publish(ARGV[2], 'H', '0', '', ARGV[5], hints)
                if ARGV[2] ~= '' then
                  for _, event in ipairs(events) do redis.call('PUBLISH', ARGV[2], event) end
                end
                if #gone + #handed == n then return 1 end
                return reply
                """
    )

    /// Fair (FIFO) acquire of one resource: granted only when the lock is free and the caller
    /// is first in the resource's queue (or the queue is empty); otherwise the caller is queued
    /// (once) with what a hand-off needs, and its liveness deadline refreshed. Queued waiters
    /// ahead of the caller that are not live (past their deadline, or their client gone from its
    /// wake channel, as ``handOff`` judges them) are evicted from the head, so a crashed waiter
    /// never blocks the queue: after a holder's expiry, which no release hands over, it would
    /// have held the lock free until its deadline lapsed. A waiter that evictions made first is
    /// told (below), so it watches the holder's expiry, or tries the free lock, at once.
    /// KEYS: lock key, fence key, queue (sorted set of waiter ids by ticket), waiters (hash, see
    /// ``fairQueue``, plus the ticket counter `#ticket`).
    /// ARGV: owner, TTL ms (0 none), event channel, the `L` event (built by the client),
    /// waiter id, waiter TTL ms, attempt number (echoed by a hand-off), wake channel prefix.
    /// Returns `{1, token}`; `{2, token, pttl}` when a release already handed the lock to this
    /// owner; or `{0, holder or false, pttl, holderToken, first}` where `first` is 1 when the
    /// caller is now first in the queue. `{-1, 1}` when the lock key holds another type of value,
    /// `{-2, 1}` when the fence key holds no counter (the lock is left as it was).
    static let acquireFair = RedisScript(
        name: "acquire-fair",
        source: fairQueue + """
            local owner, ttl, waiter, waiterTTL = ARGV[1], tonumber(ARGV[2]), ARGV[5], tonumber(ARGV[6])
            -- pcall: a key of another type answers GET with an error; it is not ours to touch.
            local holder = redis.pcall('GET', KEYS[1])
            if type(holder) == 'table' then return {-1, 1} end
            -- The counter as far as it can be read (pcall: a fence key of another type).
            local function fence()
              \(knownCount("redis.pcall('GET', KEYS[2])", into: "token"))
              return token
            end
            if holder == owner then
              forget(KEYS[3], KEYS[4], waiter)
              return {2, fence(), redis.call('PTTL', KEYS[1])}
            end
            local now = nowMs()
            local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
            local evicted = false
            while head and head ~= waiter do
              if tonumber(redis.call('HGET', KEYS[4], head) or '0') >= now then
                -- Within its deadline: live unless its client left its wake channel (pcall: an
                -- ACL without PUBSUB NUMSUB leaves it queued, as the hand-off does).
                local token = string.match(head, '^([^.]+)%.')
                local answer = token and ARGV[8] ~= '' and redis.pcall('PUBSUB', 'NUMSUB', ARGV[8] .. token)
                if type(answer) ~= 'table' or answer[2] ~= 0 then break end
              end
              forget(KEYS[3], KEYS[4], head)
              evicted = true
              head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
            end
            if evicted and head and head ~= waiter then
              -- The new first waiter slept behind the evicted ones: on a held lock it arms no
              -- timer for the holder's expiry, and a free one nobody hands it. Told as a shorter
              -- TTL (`S`) or a release (`H`), it tries again now.
              local token = string.match(head, '^([^.]+)%.')
              local pttl = holder and redis.call('PTTL', KEYS[1]) or 0
              if token and ARGV[8] ~= '' then
                if not holder then
                  \(tellFree("ARGV[8] .. token", key: "KEYS[1]", waiter: "head"))
                elseif pttl > 0 then
                  \(tellExpiry("ARGV[8] .. token", ttl: "pttl", key: "KEYS[1]", waiter: "head"))
                end
              end
            end
            if not holder and (not head or head == waiter) then
              -- The token first: a failed INCR comes before anything is set.
              \(incrementFence(undo: ""))
              if ttl > 0 then redis.call('SET', KEYS[1], owner, 'PX', ttl) else redis.call('SET', KEYS[1], owner) end
              if head then forget(KEYS[3], KEYS[4], waiter) end
              if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
              return {1, token}
            end
            if not redis.call('ZSCORE', KEYS[3], waiter) then
              redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[4], '#ticket', 1), waiter)
            end
            redis.call('HSET', KEYS[4], waiter, now + waiterTTL, waiter .. '#g', ARGV[2] .. ':' .. ARGV[7] .. ':' .. owner, waiter .. '#e', ARGV[4])
            -- A queue nobody refreshes disappears on its own.
            redis.call('PEXPIRE', KEYS[3], waiterTTL * 4); redis.call('PEXPIRE', KEYS[4], waiterTTL * 4)
            local first = redis.call('ZRANGE', KEYS[3], 0, 0)[1] == waiter and 1 or 0
            local pttl = holder and redis.call('PTTL', KEYS[1]) or 0
            return {0, holder or false, pttl, fence(), first}
            """
    )

    /// Leaves a fair queue (timeout, cancellation). A lock a release handed to this waiter
    /// meanwhile is given back; a free lock goes to the next live waiter (``handOff``). When
    /// the waiter leaving was first and the lock stays held, the one now first is told with an
    /// `S` message (as ``shorten`` tells it): it watches the holder's expiry from now on, not
    /// from its next refresh of its place (up to a third of its liveness later).
    /// KEYS: lock key, fence key, queue, waiters. ARGV: waiter id, event channel, wake channel
    /// prefix, the waiter's owner, the `H` event up to the next waiter's field.
    static let leaveQueue = RedisScript(
        name: "leave-queue",
        source: fairQueue + handOff + """
            local wasFirst = redis.call('ZRANGE', KEYS[3], 0, 0)[1] == ARGV[1]
            forget(KEYS[3], KEYS[4], ARGV[1])
            -- pcall: a key of another type answers GET with an error; it is not a lock to hand off.
            local holder = redis.pcall('GET', KEYS[1])
            if type(holder) == 'table' then return 1 end
            local released = false
            if holder == ARGV[4] then
              redis.call('DEL', KEYS[1])
              holder = false
              released = true
            end
            if holder then
              local head = wasFirst and ARGV[3] ~= '' and redis.call('ZRANGE', KEYS[3], 0, 0)[1]
              local token = head and string.match(head, '^([^.]+)%.')
              local pttl = token and redis.call('PTTL', KEYS[1]) or 0
              if pttl > 0 then
                \(tellExpiry("ARGV[3] .. token", ttl: "pttl", key: "KEYS[1]", waiter: "head"))
              end
              return 1
            end
            local next, event = handOff(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[3])
            if ARGV[2] ~= '' then
              if released then redis.call('PUBLISH', ARGV[2], ARGV[5] .. field(next or '')) end
              if event then redis.call('PUBLISH', ARGV[2], event) end
            end
            return 1
            """
    )

    /// Refresh, per resource; never creates a lock.
    /// KEYS: lock keys. ARGV[1]: locker, or empty for any holder. ARGV[2]: TTL in ms, 0 removes the expiry.
    /// ARGV[3]: event channel ('' for none). ARGV[4]: the attempt tag of the `T` event it
    /// publishes for the keys whose expiry became earlier, for the expiry watchers and the
    /// waiters (``shorten``). ARGV[5]: wake channel prefix.
    /// Returns 3 entries per resource: `code, holder, pttl` with code 1 refreshed, 0 not
    /// locked, 2 held by another (nothing changed).
    static let refresh = RedisScript(
        name: "refresh",
        source: mget + publish + shorten + """
            local locker = ARGV[1]
            local ttl = tonumber(ARGV[2])
            -- MGET, not a GET per key: a key of another type reads as missing (not locked,
            -- left alone) instead of failing the script after earlier keys were refreshed.
            local holders = mget(1, #KEYS)
            local reply = {}
            local shortened
            for i = 1, #KEYS do
              local holder = holders[i]
              if not holder then
                table.insert(reply, 0); table.insert(reply, false); table.insert(reply, 0)
              elseif locker == '' or holder == locker then
                if ttl <= 0 then
                  redis.call('PERSIST', KEYS[i])
                elseif \(shortens("KEYS[i]", "ttl")) then
                  shortened = shortened or {}; shortened[#shortened + 1] = KEYS[i]
                end
                table.insert(reply, 1); table.insert(reply, false); table.insert(reply, 0)
              else
                table.insert(reply, 2); table.insert(reply, holder); table.insert(reply, redis.call('PTTL', KEYS[i]))
              end
            end
            if shortened then shorten(ARGV[3], ARGV[5], ARGV[2], ARGV[4], shortened) end
            return reply
            """
    )

    /// Holders, read-only. KEYS: the n lock keys, then the n fence keys.
    /// Returns 3 entries per resource: `holder, pttl, token` (holder false when free).
    static let inspect = RedisScript(
        name: "inspect",
        source: mget + """
            local n = #KEYS / 2
            local holders = mget(1, n)
            local fences = mget(n + 1, 2 * n)
            local reply = {}
            for i = 1, n do
              if holders[i] then
                table.insert(reply, holders[i]); table.insert(reply, redis.call('PTTL', KEYS[i]))
                \(knownCount("fences[i]", into: "token"))
                table.insert(reply, token)
              else
                table.insert(reply, false); table.insert(reply, 0); table.insert(reply, 0)
              end
            end
            return reply
            """
    )

    /// Fencing helper: write only with a token ≥ the highest seen.
    /// KEYS[1]: a hash with fields `value`, `fence` (the highest token seen) and `written` (the
    /// token of the last write). ARGV[1]: value. ARGV[2]: token. ARGV[3] (Redlock): the longest
    /// replaced value to send back, so that ``fencedUndo`` can put it back on a node that
    /// accepted a write the quorum rejected.
    /// Returns `{1}` when written (with ARGV[3]: `{1, value, written}` from before, each false
    /// when absent, or `{2}` when that value is longer), `{0, highest}` when the token is stale.
    static let fencedWrite = RedisScript(
        name: "fenced-write",
        source: """
            local highest = redis.call('HGET', KEYS[1], 'fence')
            if highest and tonumber(ARGV[2]) < tonumber(highest) then
              return {0, tonumber(highest)}
            end
            local limit = tonumber(ARGV[3] or '')
            local before = limit and redis.call('HMGET', KEYS[1], 'value', 'written')
            redis.call('HSET', KEYS[1], 'value', ARGV[1], 'fence', ARGV[2], 'written', ARGV[2])
            if not before then return {1} end
            -- A longer value is not sent back (a reply above the client's bulk limit would fail
            -- every later write): 2 says it is unknown.
            if before[1] and string.len(before[1]) > limit then return {2} end
            return {1, before[1], before[2]}
            """
    )

    /// Redlock: undoes a fenced write that this node accepted but the quorum rejected (a node
    /// that missed the newer token), so no read returns a stale holder's value, and raises the
    /// fence to the newer token. Only while the write is still the last one there (its token
    /// and value): a newer write is left alone.
    /// KEYS[1]: the hash of ``fencedWrite``. ARGV[1]: the token of the write, ARGV[2]: its value,
    /// ARGV[3]: the highest token the rejecting nodes knew, ARGV[4]: `1` when a value was there
    /// before, `0` when none, `2` when it is unknown (the write is left, the fence raised),
    /// ARGV[5]: that value, ARGV[6]: the token that wrote it ('' for none).
    /// Returns 1 when the write was undone, else 0.
    static let fencedUndo = RedisScript(
        name: "fenced-undo",
        source: """
            local current = redis.call('HMGET', KEYS[1], 'value', 'written', 'fence')
            local undone = 0
            if ARGV[4] ~= '2' and current[1] == ARGV[2] and current[2] == ARGV[1] then
              if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'value', ARGV[5]) else redis.call('HDEL', KEYS[1], 'value') end
              if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'written', ARGV[6]) else redis.call('HDEL', KEYS[1], 'written') end
              undone = 1
            end
            if (tonumber(current[3]) or 0) < tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 'fence', ARGV[3]) end
            return undone
            """
    )

    /// Fencing helper, token-checked read: raises the fence and returns the value.
    /// KEYS[1]: the hash of ``fencedWrite``. ARGV[1]: token.
    /// Returns `{1, value or false, written token or false}`, or `{0, highest}` when the token is stale.
    static let fencedRead = RedisScript(
        name: "fenced-read",
        source: """
            local highest = redis.call('HGET', KEYS[1], 'fence')
            if highest and tonumber(ARGV[1]) < tonumber(highest) then
              return {0, tonumber(highest)}
            end
            redis.call('HSET', KEYS[1], 'fence', ARGV[1])
            return {1, redis.call('HGET', KEYS[1], 'value'), redis.call('HGET', KEYS[1], 'written')}
            """
    )

    /// Redlock fencing: raises fence counters that lag behind the token a quorum granted, so
    /// that a majority of nodes knows it (see ``RedlockBackend``). Never lowers one.
    /// KEYS: fence keys. ARGV[i]: the token for KEYS[i]. Returns the number of counters raised.
    static let raiseFences = RedisScript(
        name: "raise-fences",
        source: """
            local raised = 0
            for i = 1, #KEYS do
              local current = tonumber(redis.call('GET', KEYS[i]) or '0')
              if current < tonumber(ARGV[i]) then
                redis.call('SET', KEYS[i], ARGV[i])
                raised = raised + 1
              end
            end
            return raised
            """
    )
}
