import Locky

extension LockyConfiguration {
    /// Applies `lock`'s or `refresh`'s `--ttl` (checked by `validate()`), or else checks
    /// LOCKY_CONFIG's `lockerTTL` against ``CommandLineTTL/minimum``.
    mutating func useLockerTTL(_ argument: DurationArgument?) throws(CLIError) {
        if let argument {
            lockerTTL = argument.duration
        } else if let lockerTTL, let problem = CommandLineTTL.problem(lockerTTL, from: "LOCKY_CONFIG's lockerTTL") {
            throw .usage(problem)
        }
    }

    /// Checks LOCKY_CONFIG's `ttl` against ``CommandLineTTL/minimum`` when `run` uses it (no `--ttl`).
    func checkLeaseTTL(unless argument: DurationArgument?) throws(CLIError) {
        guard argument == nil, let problem = CommandLineTTL.problem(leaseTTL, from: "LOCKY_CONFIG's ttl") else { return }
        throw .usage(problem)
    }
}
