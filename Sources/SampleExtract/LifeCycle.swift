// What happens to an entity between its birth day and the snapshot day: removal, changes, and the
// creation and modification times the files show. Every writer draws its entities' lives from here.

/// The life of an entity up to the snapshot day.
struct Life {
    var alive = true
    /// How many times it changed; 0 = as created.
    var version = 0
    /// The day of the last change (0 = never changed).
    var lastChange = 0
    /// The day it was removed (Int.max = not removed up to the snapshot day).
    var death = Int.max
}

extension Snapshot {
    /// A chance of removal that never comes out: entities that end only with their parents.
    static let removeNone: UInt64 = 0

    /// Removals and changes of an entity born on `born`, up to the snapshot day.
    func life(_ salt: UInt64, _ id: UInt64, born: Int, remove: UInt64, change: UInt64) -> Life {
        var l = Life()
        var k = born + 1
        while k <= day {
            let r = random.hash(Salt.life ^ (salt << 8), id, u(k))
            if (r & 0xFFFF_FFFF) < remove {
                l.alive = false
                l.death = k
                return l
            }
            if (r >> 32) < change {
                l.version += 1
                l.lastChange = k
            }
            k += 1
        }
        return l
    }

    /// A creation time on the birth day (after `after`): before the day-1 extraction for day-1
    /// entities, during the working day (07:00-22:00) otherwise.
    func created(born: Int, after: Int, _ salt: UInt64, _ id: UInt64) -> Int {
        let start = WallClock.dayStart(born)
        let low = born == 1 ? after : max(after, start + 7 * WallClock.hour)
        let high = start + 22 * WallClock.hour
        return low + Int(random.hash(salt, id, 0xC2EA7E) % u(max(1, high - low)))
    }

    /// The time of the last change (07:00-22:00 of its day), or the creation time if none.
    func lastModified(_ life: Life, created: Int, _ salt: UInt64, _ id: UInt64) -> Int {
        guard life.lastChange > 0 else { return created }
        let k = life.lastChange
        return WallClock.dayStart(k) + 7 * WallClock.hour + Int(random.hash(Salt.change ^ (salt << 8), id, u(k)) % u(15 * WallClock.hour))
    }
}
