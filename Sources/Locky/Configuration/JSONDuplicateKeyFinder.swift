import Foundation

/// Finds a key that occurs twice in one JSON object: JSONSerialization keeps the last
/// silently, so `{"ttl": "1s", "ttl": "2s"}` would configure 2 s with no word about the 1 s.
enum JSONDuplicateKeyFinder {
    /// A key given twice: the dotted path of its object (empty for the top level) and the key.
    struct Duplicate: Equatable {
        var path: String
        var key: String
    }

    private enum Container {
        /// An object: its dotted path, the keys seen so far, whether a key comes next, and the last key.
        case object(path: String, keys: Set<String>, expectingKey: Bool, lastKey: String?)
        /// An array, inside the value of `path`.
        case array(path: String)

        var path: String {
            switch self {
            case .object(let path, _, _, _), .array(let path): return path
            }
        }
    }

    /// The first key given twice in one object of `json`, which must be valid JSON (checked
    /// first by JSONSerialization); keys are compared after their escapes are decoded
    /// (`"t\u0074l"` is `"ttl"`).
    static func firstDuplicate(in json: String) -> Duplicate? {
        let bytes = Array(json.utf8)
        var stack: [Container] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var path = ""
                if let top = stack.last {
                    switch top {
                    case .object(let parent, _, _, let lastKey):
                        path = [parent, lastKey ?? ""].filter { !$0.isEmpty }.joined(separator: ".")
                    case .array(let parent):
                        path = parent
                    }
                }
                stack.append(
                    byte == UInt8(ascii: "{")
                        ? .object(path: path, keys: [], expectingKey: true, lastKey: nil) : .array(path: path))
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                index += 1
            case UInt8(ascii: ","):
                if case .object(let path, let keys, _, let lastKey) = stack.last {
                    stack[stack.count - 1] = .object(path: path, keys: keys, expectingKey: true, lastKey: lastKey)
                }
                index += 1
            case UInt8(ascii: "\""):
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                let token = bytes[index...min(end, bytes.count - 1)]
                index = end + 1
                guard case .object(let path, var keys, true, _) = stack.last else { continue }
                let key = decodedString(Array(token))
                guard keys.insert(key).inserted else { return Duplicate(path: path, key: key) }
                stack[stack.count - 1] = .object(path: path, keys: keys, expectingKey: false, lastKey: key)
            default:
                index += 1
            }
        }
        return nil
    }

    /// A JSON string token (quotes included) decoded, escapes and all.
    private static func decodedString(_ token: [UInt8]) -> String {
        if let decoded = try? JSONSerialization.jsonObject(with: Data(token), options: .fragmentsAllowed) as? String {
            return decoded
        }
        return String(decoding: token.dropFirst().dropLast(), as: UTF8.self)
    }
}
