//! The recording layer: WASI preview 1 as wasmtime-wasi implements it, with every call
//! recorded and `poll_oneoff` replaced by a virtual-time version.
//!
//! Wrapping the linker's functions one level up does not work: a host function called from
//! another host function sees no calling instance, so wasmtime-wasi could not find the
//! guest's memory. Instead this type implements the generated `WasiSnapshotPreview1` trait
//! itself, delegates each call to wasmtime-wasi's `WasiP1Ctx`, and decodes the arguments
//! from guest memory before the call (paths as strings, buffers as lengths).
//!
//! `poll_oneoff` is not delegated: wasmtime-wasi's version really sleeps, which would make
//! runs slow, non-deterministic and able to outlast the wall-clock limit inside a host call.
//! Here a clock subscription advances virtual time to its deadline and returns at once.

use serde_json::{Value, json};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p1::types::{self, Errno};
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;
use wiggle::{GuestMemory, GuestPtr};

use crate::trace::{Trace, is_denial};
use crate::virt::{VirtualTime, WALL_START};
use crate::virtfs::{VirtFs, parse_dirents, render_dirents};

/// Largest directory listing read back for sorting (bytes of dirents).
const MAX_LISTING: usize = 64 << 20;

/// Longest string argument kept in a trace; longer ones are cut (and say so).
const MAX_STRING: usize = 4096;
/// Most iovecs summed for a length; a longer list is rendered by its count only.
const MAX_IOVECS: u32 = 1024;

/// The store's WASI state: wasmtime-wasi's context plus the trace and virtual time.
pub struct Traced {
    pub inner: WasiP1Ctx,
    pub trace: Trace,
    pub time: VirtualTime,
    /// Host-independent inodes, timestamps and directory order.
    pub fs: VirtFs,
}

impl std::fmt::Debug for Traced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("calls", &self.trace.calls.len())
            .finish_non_exhaustive()
    }
}

/// A result value as the trace shows it: only host-independent facts (no inode numbers,
/// no real timestamps).
trait Render {
    fn render(&self) -> Value;
}
impl Render for () {
    fn render(&self) -> Value {
        Value::Null
    }
}
impl Render for u32 {
    fn render(&self) -> Value {
        json!(self)
    }
}
impl Render for u64 {
    fn render(&self) -> Value {
        json!(self)
    }
}
impl Render for (u32, u32) {
    fn render(&self) -> Value {
        json!([self.0, self.1])
    }
}
impl Render for (u32, types::Roflags) {
    fn render(&self) -> Value {
        json!([self.0, self.1.bits()])
    }
}
impl Render for types::Fd {
    fn render(&self) -> Value {
        json!(u32::from(*self))
    }
}
impl Render for types::Fdstat {
    fn render(&self) -> Value {
        json!({"filetype": name(&self.fs_filetype), "flags": self.fs_flags.bits()})
    }
}
impl Render for types::Filestat {
    fn render(&self) -> Value {
        json!({"filetype": name(&self.filetype), "size": self.size})
    }
}
impl Render for types::Prestat {
    fn render(&self) -> Value {
        match self {
            types::Prestat::Dir(d) => json!({"dir_name_len": d.pr_name_len}),
        }
    }
}

/// Lower-case variant name of a WASI enum (`Errno::Notcapable` -> `notcapable`).
fn name(v: &impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

fn fd(fd: types::Fd) -> Value {
    json!(u32::from(fd))
}

/// A guest string, or null when it is out of bounds or not UTF-8.
fn string(mem: &GuestMemory<'_>, p: GuestPtr<str>) -> Value {
    match mem.as_cow_str(p) {
        Ok(s) if s.len() > MAX_STRING => {
            let mut end = MAX_STRING;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            json!(format!("{}...(cut, {} bytes)", &s[..end], s.len()))
        }
        Ok(s) => json!(s),
        Err(_) => Value::Null,
    }
}

/// Total length of an iovec list, or null when it cannot be read or is too long to sum.
fn iov_len(mem: &GuestMemory<'_>, iovs: &types::IovecArray) -> Value {
    if iovs.len() > MAX_IOVECS {
        return Value::Null;
    }
    let mut total = 0u64;
    for p in iovs.iter() {
        match p.and_then(|p| mem.read(p)) {
            Ok(v) => total += u64::from(v.buf_len),
            Err(_) => return Value::Null,
        }
    }
    json!(total)
}

fn ciov_len(mem: &GuestMemory<'_>, iovs: &types::CiovecArray) -> Value {
    if iovs.len() > MAX_IOVECS {
        return Value::Null;
    }
    let mut total = 0u64;
    for p in iovs.iter() {
        match p.and_then(|p| mem.read(p)) {
            Ok(v) => total += u64::from(v.buf_len),
            Err(_) => return Value::Null,
        }
    }
    json!(total)
}

impl Traced {
    fn record<T: Render>(&mut self, func: &str, args: Value, r: &Result<T, types::Error>) {
        let call = format!("wasi_snapshot_preview1#{func}");
        let (result, denied) = match r {
            Ok(v) => (json!({ "ok": v.render() }), false),
            Err(e) => match e.downcast_ref() {
                Some(errno) => {
                    let n = name(errno);
                    let denied = is_denial(&call, &n);
                    (json!({ "errno": n }), denied)
                }
                None => (json!({ "trap": e.to_string() }), false),
            },
        };
        self.trace.push(&call, args, result, denied);
    }

    /// Deadline of a clock subscription in virtual nanoseconds, or the errno for a clock
    /// the sandbox does not offer.
    fn deadline(&self, c: &types::SubscriptionClock) -> Result<u64, Errno> {
        let abs = c
            .flags
            .contains(types::Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME);
        let now = self.time.peek();
        match c.id {
            types::Clockid::Monotonic if abs => Ok(c.timeout),
            types::Clockid::Realtime if abs => {
                let start = u64::try_from(WALL_START.as_nanos()).unwrap_or(u64::MAX);
                Ok(c.timeout.saturating_sub(start))
            }
            types::Clockid::Monotonic | types::Clockid::Realtime => {
                Ok(now.saturating_add(c.timeout))
            }
            _ => Err(Errno::Inval),
        }
    }

    /// Every fd the sandbox has is ready at once (stdin is empty, files are local copies);
    /// one that does not exist reports its errno.
    async fn fd_ready(&mut self, memory: &mut GuestMemory<'_>, fd: types::Fd) -> Errno {
        match self.inner.fd_fdstat_get(memory, fd).await {
            Ok(_) => Errno::Success,
            Err(e) => e.downcast_ref().copied().unwrap_or(Errno::Badf),
        }
    }

    async fn virtual_poll(
        &mut self,
        memory: &mut GuestMemory<'_>,
        subs: GuestPtr<types::Subscription>,
        events: GuestPtr<types::Event>,
        n: u32,
    ) -> (Value, Result<u32, types::Error>) {
        let mut shown = Vec::new();
        let mut ready = Vec::new();
        let mut clocks = Vec::new();
        let event = |userdata, error, type_| types::Event {
            userdata,
            error,
            type_,
            fd_readwrite: types::EventFdReadwrite {
                nbytes: 0,
                flags: types::Eventrwflags::empty(),
            },
        };
        if n == 0 {
            return (json!({ "subscriptions": [] }), Err(Errno::Inval.into()));
        }
        for i in 0..n {
            let sub = match subs.add(i).and_then(|p| memory.read(p)) {
                Ok(s) => s,
                Err(e) => return (json!({ "subscriptions": shown }), Err(e.into())),
            };
            match sub.u {
                types::SubscriptionU::Clock(c) => {
                    shown.push(json!({"clock": name(&c.id), "timeout": c.timeout,
                        "abstime": c.flags.contains(types::Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME)}));
                    match self.deadline(&c) {
                        Ok(d) => clocks.push((sub.userdata, d)),
                        Err(e) => ready.push(event(sub.userdata, e, types::Eventtype::Clock)),
                    }
                }
                types::SubscriptionU::FdRead(r) => {
                    shown.push(json!({ "fd_read": u32::from(r.file_descriptor) }));
                    let errno = self.fd_ready(memory, r.file_descriptor).await;
                    ready.push(event(sub.userdata, errno, types::Eventtype::FdRead));
                }
                types::SubscriptionU::FdWrite(r) => {
                    shown.push(json!({ "fd_write": u32::from(r.file_descriptor) }));
                    let errno = self.fd_ready(memory, r.file_descriptor).await;
                    ready.push(event(sub.userdata, errno, types::Eventtype::FdWrite));
                }
            }
        }
        if ready.is_empty() {
            // Only clocks: the earliest deadline passes, in virtual time.
            let first = clocks.iter().map(|c| c.1).min().unwrap_or(0);
            self.time.advance_to(first);
            for (userdata, d) in clocks {
                if d <= first {
                    ready.push(event(userdata, Errno::Success, types::Eventtype::Clock));
                }
            }
        }
        let args = json!({ "subscriptions": shown });
        let count = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        for (i, e) in ready.into_iter().enumerate() {
            let at = u32::try_from(i).unwrap_or(u32::MAX);
            if let Err(err) = events.add(at).and_then(|p| memory.write(p, e)) {
                return (args, Err(err.into()));
            }
        }
        (args, Ok(count))
    }
}

impl Traced {
    /// `fd_readdir` with the whole listing read first (into a private buffer), sorted and
    /// renumbered, then cut from `cookie` into the guest's buffer: the host's order and
    /// inode numbers never reach the guest.
    async fn sorted_readdir(
        &mut self,
        memory: &mut GuestMemory<'_>,
        f: types::Fd,
        buf: GuestPtr<u8>,
        len: u32,
        cookie: u64,
    ) -> R<u32> {
        let mut size = 64usize << 10;
        let raw = loop {
            let mut scratch = vec![0u8; size];
            let cap = u32::try_from(size).unwrap_or(u32::MAX);
            let n = {
                let mut private = GuestMemory::Unshared(&mut scratch);
                self.inner
                    .fd_readdir(&mut private, f, GuestPtr::new(0), cap, 0)
                    .await?
            };
            if n < cap {
                scratch.truncate(n as usize);
                break scratch;
            }
            if size >= MAX_LISTING {
                return Err(Errno::Nomem.into());
            }
            size *= 4;
        };
        let entries = self.fs.order(parse_dirents(&raw));
        let bytes = render_dirents(&entries, cookie, len as usize);
        let n = u32::try_from(bytes.len()).map_err(|_| Errno::Overflow)?;
        memory.copy_from_slice(&bytes, buf.as_array(n))?;
        Ok(n)
    }
}

macro_rules! call {
    ($self:ident, $mem:ident, $f:ident, $args:expr, $($a:expr),*) => {{
        let args = $args;
        let r = $self.inner.$f($mem, $($a),*);
        $self.record(stringify!($f), args, &r);
        r
    }};
}

macro_rules! call_async {
    ($self:ident, $mem:ident, $f:ident, $args:expr, $($a:expr),*) => {{
        let args = $args;
        let r = $self.inner.$f($mem, $($a),*).await;
        $self.record(stringify!($f), args, &r);
        r
    }};
}

type R<T> = Result<T, types::Error>;
type Mem<'a, 'b> = &'a mut GuestMemory<'b>;

impl WasiSnapshotPreview1 for Traced {
    fn set_hostcall_fuel(&mut self, fuel: usize) {
        self.inner.set_hostcall_fuel(fuel);
    }
    fn args_get(&mut self, m: Mem<'_, '_>, a: GuestPtr<GuestPtr<u8>>, b: GuestPtr<u8>) -> R<()> {
        call!(self, m, args_get, json!({}), a, b)
    }
    fn args_sizes_get(&mut self, m: Mem<'_, '_>) -> R<(u32, u32)> {
        call!(self, m, args_sizes_get, json!({}),)
    }
    fn environ_get(&mut self, m: Mem<'_, '_>, a: GuestPtr<GuestPtr<u8>>, b: GuestPtr<u8>) -> R<()> {
        call!(self, m, environ_get, json!({}), a, b)
    }
    fn environ_sizes_get(&mut self, m: Mem<'_, '_>) -> R<(u32, u32)> {
        call!(self, m, environ_sizes_get, json!({}),)
    }
    fn clock_res_get(&mut self, m: Mem<'_, '_>, id: types::Clockid) -> R<u64> {
        call!(self, m, clock_res_get, json!({"id": name(&id)}), id)
    }
    fn clock_time_get(&mut self, m: Mem<'_, '_>, id: types::Clockid, p: u64) -> R<u64> {
        call!(
            self,
            m,
            clock_time_get,
            json!({"id": name(&id), "precision": p}),
            id,
            p
        )
    }
    async fn fd_advise(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        off: u64,
        len: u64,
        adv: types::Advice,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "offset": off, "len": len, "advice": name(&adv)});
        call_async!(self, m, fd_advise, a, f, off, len, adv)
    }
    fn fd_allocate(&mut self, m: Mem<'_, '_>, f: types::Fd, off: u64, len: u64) -> R<()> {
        let a = json!({"fd": fd(f), "offset": off, "len": len});
        call!(self, m, fd_allocate, a, f, off, len)
    }
    async fn fd_close(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<()> {
        call_async!(self, m, fd_close, json!({"fd": fd(f)}), f)
    }
    async fn fd_datasync(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<()> {
        call_async!(self, m, fd_datasync, json!({"fd": fd(f)}), f)
    }
    async fn fd_fdstat_get(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<types::Fdstat> {
        call_async!(self, m, fd_fdstat_get, json!({"fd": fd(f)}), f)
    }
    fn fd_fdstat_set_flags(&mut self, m: Mem<'_, '_>, f: types::Fd, fl: types::Fdflags) -> R<()> {
        let a = json!({"fd": fd(f), "flags": fl.bits()});
        call!(self, m, fd_fdstat_set_flags, a, f, fl)
    }
    fn fd_fdstat_set_rights(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        base: types::Rights,
        inh: types::Rights,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "rights_base": base.bits(), "rights_inheriting": inh.bits()});
        call!(self, m, fd_fdstat_set_rights, a, f, base, inh)
    }
    async fn fd_filestat_get(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<types::Filestat> {
        let r = self.inner.fd_filestat_get(m, f).await;
        let r = r.map(|s| self.fs.filestat(s));
        self.record("fd_filestat_get", json!({"fd": fd(f)}), &r);
        r
    }
    async fn fd_filestat_set_size(&mut self, m: Mem<'_, '_>, f: types::Fd, size: u64) -> R<()> {
        let a = json!({"fd": fd(f), "size": size});
        call_async!(self, m, fd_filestat_set_size, a, f, size)
    }
    async fn fd_filestat_set_times(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        atim: u64,
        mtim: u64,
        fl: types::Fstflags,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "atim": atim, "mtim": mtim, "flags": fl.bits()});
        call_async!(self, m, fd_filestat_set_times, a, f, atim, mtim, fl)
    }
    async fn fd_read(&mut self, m: Mem<'_, '_>, f: types::Fd, iovs: types::IovecArray) -> R<u32> {
        let a = json!({"fd": fd(f), "iovs_len": iov_len(m, &iovs)});
        call_async!(self, m, fd_read, a, f, iovs)
    }
    async fn fd_pread(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        iovs: types::IovecArray,
        off: u64,
    ) -> R<u32> {
        let a = json!({"fd": fd(f), "iovs_len": iov_len(m, &iovs), "offset": off});
        call_async!(self, m, fd_pread, a, f, iovs, off)
    }
    async fn fd_write(&mut self, m: Mem<'_, '_>, f: types::Fd, iovs: types::CiovecArray) -> R<u32> {
        let a = json!({"fd": fd(f), "iovs_len": ciov_len(m, &iovs)});
        call_async!(self, m, fd_write, a, f, iovs)
    }
    async fn fd_pwrite(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        iovs: types::CiovecArray,
        off: u64,
    ) -> R<u32> {
        let a = json!({"fd": fd(f), "iovs_len": ciov_len(m, &iovs), "offset": off});
        call_async!(self, m, fd_pwrite, a, f, iovs, off)
    }
    fn fd_prestat_get(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<types::Prestat> {
        call!(self, m, fd_prestat_get, json!({"fd": fd(f)}), f)
    }
    fn fd_prestat_dir_name(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        p: GuestPtr<u8>,
        len: u32,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "path_len": len});
        call!(self, m, fd_prestat_dir_name, a, f, p, len)
    }
    async fn fd_renumber(&mut self, m: Mem<'_, '_>, from: types::Fd, to: types::Fd) -> R<()> {
        let a = json!({"fd": fd(from), "to": fd(to)});
        call_async!(self, m, fd_renumber, a, from, to)
    }
    async fn fd_seek(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        off: i64,
        whence: types::Whence,
    ) -> R<u64> {
        let a = json!({"fd": fd(f), "offset": off, "whence": name(&whence)});
        call_async!(self, m, fd_seek, a, f, off, whence)
    }
    async fn fd_sync(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<()> {
        call_async!(self, m, fd_sync, json!({"fd": fd(f)}), f)
    }
    fn fd_tell(&mut self, m: Mem<'_, '_>, f: types::Fd) -> R<u64> {
        call!(self, m, fd_tell, json!({"fd": fd(f)}), f)
    }
    async fn fd_readdir(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        buf: GuestPtr<u8>,
        len: u32,
        cookie: u64,
    ) -> R<u32> {
        let a = json!({"fd": fd(f), "buf_len": len, "cookie": cookie});
        let r = self.sorted_readdir(m, f, buf, len, cookie).await;
        self.record("fd_readdir", a, &r);
        r
    }
    async fn path_create_directory(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        p: GuestPtr<str>,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "path": string(m, p)});
        call_async!(self, m, path_create_directory, a, f, p)
    }
    async fn path_filestat_get(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        fl: types::Lookupflags,
        p: GuestPtr<str>,
    ) -> R<types::Filestat> {
        let a = json!({"fd": fd(f), "flags": fl.bits(), "path": string(m, p)});
        let r = self.inner.path_filestat_get(m, f, fl, p).await;
        let r = r.map(|s| self.fs.filestat(s));
        self.record("path_filestat_get", a, &r);
        r
    }
    async fn path_filestat_set_times(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        fl: types::Lookupflags,
        p: GuestPtr<str>,
        atim: u64,
        mtim: u64,
        st: types::Fstflags,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "flags": fl.bits(), "path": string(m, p),
            "atim": atim, "mtim": mtim, "fst_flags": st.bits()});
        call_async!(
            self,
            m,
            path_filestat_set_times,
            a,
            f,
            fl,
            p,
            atim,
            mtim,
            st
        )
    }
    async fn path_link(
        &mut self,
        m: Mem<'_, '_>,
        sf: types::Fd,
        fl: types::Lookupflags,
        sp: GuestPtr<str>,
        tf: types::Fd,
        tp: GuestPtr<str>,
    ) -> R<()> {
        let a = json!({"fd": fd(sf), "flags": fl.bits(), "path": string(m, sp),
            "target_fd": fd(tf), "target_path": string(m, tp)});
        call_async!(self, m, path_link, a, sf, fl, sp, tf, tp)
    }
    async fn path_open(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        dfl: types::Lookupflags,
        p: GuestPtr<str>,
        ofl: types::Oflags,
        base: types::Rights,
        inh: types::Rights,
        fdfl: types::Fdflags,
    ) -> R<types::Fd> {
        let a = json!({"fd": fd(f), "dirflags": dfl.bits(), "path": string(m, p),
            "oflags": ofl.bits(), "rights_base": base.bits(), "fdflags": fdfl.bits()});
        call_async!(self, m, path_open, a, f, dfl, p, ofl, base, inh, fdfl)
    }
    async fn path_readlink(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        p: GuestPtr<str>,
        buf: GuestPtr<u8>,
        len: u32,
    ) -> R<u32> {
        let a = json!({"fd": fd(f), "path": string(m, p), "buf_len": len});
        call_async!(self, m, path_readlink, a, f, p, buf, len)
    }
    async fn path_remove_directory(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        p: GuestPtr<str>,
    ) -> R<()> {
        let a = json!({"fd": fd(f), "path": string(m, p)});
        call_async!(self, m, path_remove_directory, a, f, p)
    }
    async fn path_rename(
        &mut self,
        m: Mem<'_, '_>,
        sf: types::Fd,
        sp: GuestPtr<str>,
        df: types::Fd,
        dp: GuestPtr<str>,
    ) -> R<()> {
        let a = json!({"fd": fd(sf), "path": string(m, sp), "new_fd": fd(df),
            "new_path": string(m, dp)});
        call_async!(self, m, path_rename, a, sf, sp, df, dp)
    }
    async fn path_symlink(
        &mut self,
        m: Mem<'_, '_>,
        sp: GuestPtr<str>,
        f: types::Fd,
        dp: GuestPtr<str>,
    ) -> R<()> {
        let a = json!({"old_path": string(m, sp), "fd": fd(f), "new_path": string(m, dp)});
        call_async!(self, m, path_symlink, a, sp, f, dp)
    }
    async fn path_unlink_file(&mut self, m: Mem<'_, '_>, f: types::Fd, p: GuestPtr<str>) -> R<()> {
        let a = json!({"fd": fd(f), "path": string(m, p)});
        call_async!(self, m, path_unlink_file, a, f, p)
    }
    async fn poll_oneoff(
        &mut self,
        m: Mem<'_, '_>,
        subs: GuestPtr<types::Subscription>,
        events: GuestPtr<types::Event>,
        n: u32,
    ) -> R<u32> {
        let (args, r) = self.virtual_poll(m, subs, events, n).await;
        self.record("poll_oneoff", args, &r);
        r
    }
    fn proc_exit(&mut self, m: Mem<'_, '_>, status: u32) -> wasmtime::Error {
        let e = self.inner.proc_exit(m, status);
        let call = "wasi_snapshot_preview1#proc_exit";
        self.trace.push(
            call,
            json!({"status": status}),
            json!({"exit": status}),
            false,
        );
        e
    }
    fn proc_raise(&mut self, m: Mem<'_, '_>, sig: types::Signal) -> R<()> {
        call!(self, m, proc_raise, json!({"signal": name(&sig)}), sig)
    }
    fn sched_yield(&mut self, m: Mem<'_, '_>) -> R<()> {
        call!(self, m, sched_yield, json!({}),)
    }
    fn random_get(&mut self, m: Mem<'_, '_>, buf: GuestPtr<u8>, len: u32) -> R<()> {
        call!(self, m, random_get, json!({"buf_len": len}), buf, len)
    }
    fn sock_accept(&mut self, m: Mem<'_, '_>, f: types::Fd, fl: types::Fdflags) -> R<types::Fd> {
        call!(
            self,
            m,
            sock_accept,
            json!({"fd": fd(f), "flags": fl.bits()}),
            f,
            fl
        )
    }
    fn sock_recv(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        iovs: types::IovecArray,
        fl: types::Riflags,
    ) -> R<(u32, types::Roflags)> {
        let a = json!({"fd": fd(f), "iovs_len": iov_len(m, &iovs), "flags": fl.bits()});
        call!(self, m, sock_recv, a, f, iovs, fl)
    }
    fn sock_send(
        &mut self,
        m: Mem<'_, '_>,
        f: types::Fd,
        iovs: types::CiovecArray,
        fl: types::Siflags,
    ) -> R<u32> {
        let a = json!({"fd": fd(f), "iovs_len": ciov_len(m, &iovs), "flags": fl});
        call!(self, m, sock_send, a, f, iovs, fl)
    }
    fn sock_shutdown(&mut self, m: Mem<'_, '_>, f: types::Fd, how: types::Sdflags) -> R<()> {
        call!(
            self,
            m,
            sock_shutdown,
            json!({"fd": fd(f), "how": how.bits()}),
            f,
            how
        )
    }
}
