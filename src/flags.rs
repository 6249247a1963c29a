//! The command line, read as Go's `flag` package reads Mesos-DNS's (docs/spec/mesos-dns-behavior.md §1.1):
//! `-name=value`, `-name value`, one or two dashes, booleans without a value.

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flags {
    /// `-config`: the configuration file.
    pub config: String,
    /// `-version`: print the version and exit.
    pub version: bool,
    /// glog-style verbosity: 1 verbose, 2 and up very verbose.
    pub verbosity: i32,
}

/// Why the command line was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagsError {
    /// `-h` / `-help`: print usage, exit 0.
    Help,
    /// Anything else: print the message and usage, exit 2.
    Bad(String),
}

/// What `-help` prints, as the reference words it.
pub const USAGE: &str = "Usage of mesos-dns:
  -config string
    \tPath to config file (default \"config.json\")
  -v int
    \tlog verbosity level (1 verbose, 2 very verbose)
  -version
    \tOutput the version and exit
  (glog flags -logtostderr, -alsologtostderr, -log_dir, -stderrthreshold, -vmodule and
   -log_backtrace_at are accepted and ignored)";

/// Flags that the reference inherits from glog: accepted so existing unit files keep
/// working; only `-v` has an effect.
const IGNORED_BOOL: &[&str] = &["logtostderr", "alsologtostderr"];
const IGNORED_VALUE: &[&str] = &["log_dir", "stderrthreshold", "vmodule", "log_backtrace_at"];

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Flags {
    /// Parses the arguments after the program name. Parsing stops at the first
    /// non-flag argument or at `--`, as in Go.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, FlagsError> {
        let mut flags = Flags {
            config: "config.json".into(),
            version: false,
            verbosity: 0,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" || !arg.starts_with('-') || arg == "-" {
                break;
            }
            let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
            if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
                return Err(FlagsError::Bad(format!("bad flag syntax: {arg}")));
            }
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let mut value = |inline: Option<String>| {
                inline
                    .or_else(|| args.next())
                    .ok_or_else(|| FlagsError::Bad(format!("flag needs an argument: -{name}")))
            };
            match name {
                "h" | "help" => return Err(FlagsError::Help),
                "config" => flags.config = value(inline)?,
                "v" => {
                    let text = value(inline)?;
                    flags.verbosity = text.parse().map_err(|_| {
                        FlagsError::Bad(format!("invalid value {text:?} for flag -v: parse error"))
                    })?;
                }
                "version" => flags.version = bool_value(name, inline)?,
                n if IGNORED_BOOL.contains(&n) => {
                    bool_value(name, inline)?;
                }
                n if IGNORED_VALUE.contains(&n) => {
                    value(inline)?;
                }
                _ => {
                    return Err(FlagsError::Bad(format!(
                        "flag provided but not defined: -{name}"
                    )));
                }
            }
        }
        Ok(flags)
    }
}

fn bool_value(name: &str, inline: Option<String>) -> Result<bool, FlagsError> {
    match inline {
        None => Ok(true),
        Some(text) => parse_bool(&text).ok_or_else(|| {
            FlagsError::Bad(format!(
                "invalid boolean value {text:?} for -{name}: parse error"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, FlagsError> {
        Flags::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn forms() {
        assert_eq!(parse(&[]).unwrap().config, "config.json");
        assert_eq!(parse(&["-config=a.json"]).unwrap().config, "a.json");
        assert_eq!(parse(&["-config", "b.json"]).unwrap().config, "b.json");
        assert_eq!(parse(&["--config", "c.json"]).unwrap().config, "c.json");
        assert_eq!(parse(&["--config=d.json"]).unwrap().config, "d.json");
        assert!(parse(&["-version"]).unwrap().version);
        assert!(!parse(&["-version=false"]).unwrap().version);
        assert_eq!(parse(&["-v=2"]).unwrap().verbosity, 2);
        assert_eq!(parse(&["-v", "1"]).unwrap().verbosity, 1);
        assert_eq!(parse(&["-logtostderr", "-v=1"]).unwrap().verbosity, 1);
        assert_eq!(parse(&["-log_dir", "/tmp", "-v=1"]).unwrap().verbosity, 1);
        // Parsing stops at the first non-flag.
        assert_eq!(parse(&["x", "-bogus"]).unwrap().config, "config.json");
    }

    #[test]
    fn errors() {
        assert!(matches!(parse(&["-bogus"]), Err(FlagsError::Bad(_))));
        assert!(matches!(parse(&["-config"]), Err(FlagsError::Bad(_))));
        assert!(matches!(parse(&["-v=x"]), Err(FlagsError::Bad(_))));
        assert!(matches!(parse(&["---v=1"]), Err(FlagsError::Bad(_))));
        assert!(matches!(
            parse(&["-version=maybe"]),
            Err(FlagsError::Bad(_))
        ));
        assert_eq!(parse(&["-h"]), Err(FlagsError::Help));
        assert_eq!(parse(&["--help"]), Err(FlagsError::Help));
    }
}
