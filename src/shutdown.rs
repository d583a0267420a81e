//! Exit promptly and cleanly on SIGTERM and SIGINT.
//!
//! As PID 1 in a container the process gets no default signal handling, so
//! without this `docker stop` would wait its 10 s and then kill. A scrape in
//! flight is not waited for: Prometheus treats the cut connection as a failed
//! scrape, which is the truth. signal-hook does the async-signal-safe part.

use std::io;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Starts a thread that exits the process with status 0 on SIGTERM or SIGINT.
pub fn exit_on_signals() -> io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    thread::Builder::new()
        .name("signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                log::info!("received {name}, exiting");
                log::logger().flush();
                std::process::exit(0);
            }
        })?;
    Ok(())
}
