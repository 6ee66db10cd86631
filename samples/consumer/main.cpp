// Links smp::smp from an installed package: synthesize a phantom crown, preview it in memory,
// write the before/after. Usage: smp_consumer OUT.png
#include <cstdio>

#include <smp/smp.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: smp_consumer OUT.png\n");
    return 2;
  }
  try {
    const smp::Phantom head = smp::synthesize({.size = {480, 360}, .level = 6, .seed = 3});
    const smp::Preview result = smp::preview(head.image, {.generate = {.seed = 7}});
    smp::write_image(argv[1], smp::before_after(head.image, result.after));
    std::printf("%zu dots, hair fraction %.2f\n", result.dots.dots.size(),
                result.analysis.hair_fraction);
  } catch (const smp::Error& e) {
    std::fprintf(stderr, "smp_consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
