/// The hash of a staged row's values, by which a new snapshot tells its unchanged rows from the
/// previous one's without comparing every column: 64-bit FNV-1a over each value's length (or a
/// NULL marker) and bytes, so that `("ab", "c")`, `("a", "bc")`, `nil` and `""` all differ.
///
/// It is compared only between two rows of the same natural key, of the same scope, one day
/// apart: a changed row that kept its hash would need a 64-bit collision (about 1 in 10^19 per
/// changed row). It is stored, so it must never change for the same values: FNV-1a is fixed by its
/// definition, unlike Swift's per-process seeded `Hasher`.
enum RowHash {
    static func of(_ values: [String?]) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for value in values {
            guard var v = value else {
                for _ in 0..<8 { mix(0xFF) }
                continue
            }
            v.withUTF8 { bytes in
                var n = UInt64(bytes.count)
                for _ in 0..<8 { mix(UInt8(truncatingIfNeeded: n)); n >>= 8 }
                for b in bytes { mix(b) }
            }
        }
        return Int64(bitPattern: h)
    }
}
