#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: vouch::dev::fuzzing::abort_on_own_panics(), |data: &[u8]| {
    vouch::dev::fuzzing::id_list(data);
});
