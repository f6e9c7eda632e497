#pragma once
/// Where `mdbridge subscribe` resumes after a restart (issue 18), exactly once: the last
/// JetStream stream sequence whose records are in its ring, kept in a small file it maps
/// (a store per message, no system call; it outlives a kill -9, as the ring does).
///
/// Before it writes a message's frames the subscriber records its intent: the message's
/// stream sequence, the ring's next frame sequence and how many frames it will write (the
/// record, and a gap record before it when the stream sequence jumped). After the writes it
/// records the message as done. On restart, the ring's next frame sequence (the ring adopted
/// from the dead writer keeps it) tells how much of an intent reached the ring, so a message
/// killed half-way is neither written twice nor skipped (resume_point).
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mdbus::bridge {

struct resume_words {
  std::uint64_t magic;     ///< kResumeMagic
  std::uint64_t identity;  ///< which stream and ring (resume_identity): another's file is refused
  std::atomic<std::uint64_t> done;              ///< last stream sequence wholly in the ring (0: none)
  std::atomic<std::uint64_t> pending;           ///< stream sequence being written (0: none)
  std::atomic<std::uint64_t> pending_ring_seq;  ///< the ring's next frame sequence before it
  std::atomic<std::uint64_t> pending_frames;    ///< frames it writes (1, or 2 with a gap record first)
};
inline constexpr std::uint64_t kResumeMagic = 0x31454d5553455242ULL;  // "BRESUME1"

/// FNV-1a of the stream name, the subject prefix and the ring's segment name.
[[nodiscard]] std::uint64_t resume_identity(const std::string& stream, const std::string& prefix, const std::string& ring);

struct resume_point {
  std::uint64_t last_written = 0;  ///< resume after this stream sequence
  bool hole_reported = false;      ///< the gap record for the hole before the next message is in the ring
};

/// From the words as a killed subscriber left them and the adopted ring's next frame
/// sequence. Pure. A ring that is new (behind the intent: it was removed) takes the last
/// finished message.
[[nodiscard]] resume_point resume_from(std::uint64_t done, std::uint64_t pending, std::uint64_t pending_ring_seq,
                                       std::uint64_t pending_frames, std::uint64_t ring_next_seq) noexcept;

class resume_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The mapped file. Created zeroed with the identity; an existing file must carry the same
/// identity (else resume_error naming both).
class resume_file {
 public:
  resume_file(const std::string& path, std::uint64_t identity);
  ~resume_file();
  resume_file(const resume_file&) = delete;
  resume_file& operator=(const resume_file&) = delete;

  [[nodiscard]] resume_point resume(std::uint64_t ring_next_seq) const noexcept;
  void intend(std::uint64_t stream_seq, std::uint64_t ring_next_seq, std::uint64_t frames) noexcept {
    w_->pending.store(0, std::memory_order_relaxed);
    w_->pending_ring_seq.store(ring_next_seq, std::memory_order_relaxed);
    w_->pending_frames.store(frames, std::memory_order_relaxed);
    w_->pending.store(stream_seq, std::memory_order_release);
  }
  void finished(std::uint64_t stream_seq) noexcept { w_->done.store(stream_seq, std::memory_order_release); }
  [[nodiscard]] std::uint64_t done() const noexcept { return w_->done.load(std::memory_order_acquire); }

 private:
  resume_words* w_ = nullptr;
};

}  // namespace mdbus::bridge
