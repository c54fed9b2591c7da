extension String {
    /// The text without leading and trailing whitespace (spaces, tabs, newlines).
    var trimmingSpacesAndNewlines: String {
        var text = self[...]
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
