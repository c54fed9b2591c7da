/// A value decodable from a reply.
public protocol RESPDecodable: Sendable {
    /// Decodes the value; throws when the token has another shape, including when it is an error reply.
    init(fromRESP token: RESPToken) throws(RESPDecodeError)
}
