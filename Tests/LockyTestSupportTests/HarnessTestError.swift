/// An error thrown on purpose by tests to check cleanup on failure.
struct HarnessTestError: Error {}
