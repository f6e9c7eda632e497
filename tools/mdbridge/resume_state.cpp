#include "tools/mdbridge/resume_state.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mdbus::bridge {

std::uint64_t resume_identity(const std::string& stream, const std::string& prefix, const std::string& ring) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::string* s : {&stream, &prefix, &ring}) {
    for (const char c : *s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    h ^= 0xff;  // a separator: ("ab","c") differs from ("a","bc")
    h *= 0x100000001b3ULL;
  }
  return h == 0 ? 1 : h;
}

resume_point resume_from(std::uint64_t done, std::uint64_t pending, std::uint64_t pending_ring_seq,
                         std::uint64_t pending_frames, std::uint64_t ring_next_seq) noexcept {
  if (pending == 0 || pending <= done || ring_next_seq < pending_ring_seq) return {done, false};
  const std::uint64_t reached = ring_next_seq - pending_ring_seq;
  if (reached >= pending_frames) return {pending, false};  // all its frames are in: it is done
  // A gap record goes first: when it alone is in, the message is written again without it.
  return {done, reached >= 1 && pending_frames == 2};
}

resume_file::resume_file(const std::string& path, std::uint64_t identity) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw resume_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_size != 0 && st.st_size != static_cast<off_t>(sizeof(resume_words)))) {
    ::close(fd);
    throw resume_error(path + ": not a resume file of this mdbridge (size " + std::to_string(st.st_size) + ", expected " +
                       std::to_string(sizeof(resume_words)) + ")");
  }
  const bool fresh = st.st_size == 0;
  if (fresh && ::ftruncate(fd, sizeof(resume_words)) != 0) {
    const int e = errno;
    ::close(fd);
    throw resume_error(path + ": cannot size: " + std::strerror(e));
  }
  void* p = ::mmap(nullptr, sizeof(resume_words), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw resume_error(path + ": cannot map: " + std::strerror(errno));
  w_ = static_cast<resume_words*>(p);
  if (fresh) {
    w_->identity = identity;
    w_->magic = kResumeMagic;
  } else if (w_->magic != kResumeMagic || w_->identity != identity) {
    const bool foreign = w_->magic == kResumeMagic;
    ::munmap(p, sizeof(resume_words));
    w_ = nullptr;
    throw resume_error(path + (foreign ? ": belongs to another stream, subject prefix or ring (remove it to start over)"
                                       : ": not a resume file of this mdbridge"));
  }
}

resume_file::~resume_file() {
  if (w_ != nullptr) ::munmap(w_, sizeof(resume_words));
}

resume_point resume_file::resume(std::uint64_t ring_next_seq) const noexcept {
  return resume_from(w_->done.load(std::memory_order_acquire), w_->pending.load(std::memory_order_acquire),
                     w_->pending_ring_seq.load(std::memory_order_relaxed), w_->pending_frames.load(std::memory_order_relaxed),
                     ring_next_seq);
}

}  // namespace mdbus::bridge
