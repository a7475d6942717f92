{
  description = "nix-images: Nix-built OCI container and NixOS EC2 images";

  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # The one list of systems, shared with the task runner.
      systems = builtins.fromJSON (builtins.readFile ./nix/systems.json);
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      nixosModules = {
        # What runs on the instance.
        ec2 = ./nix/virtual-machine/configuration.nix;
        # How it becomes a raw UEFI disk image (image.modules.ec2-raw).
        ec2-raw-image = ./nix/virtual-machine/image.nix;
      };

      nixosConfigurations = lib.genAttrs systems (
        system:
        lib.nixosSystem {
          modules = [
            self.nixosModules.ec2
            {
              nixpkgs.hostPlatform = system;
              image.modules.ec2-raw = self.nixosModules.ec2-raw-image;
            }
          ];
        }
      );

      packages = forAllSystems (pkgs: {
        # $out/nix.tar.gz: a gzipped docker-archive.
        oci-container = pkgs.callPackage ./nix/oci-container.nix { };
        # $out/nixos.img and $out/nix-support/image-info.json.
        virtual-machine =
          self.nixosConfigurations.${pkgs.stdenv.hostPlatform.system}.config.system.build.images.ec2-raw;
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.oci-container;
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/dev-shell.nix {
          formatter = self.formatter.${pkgs.stdenv.hostPlatform.system};
        };
      });

      # `nix fmt`: nixfmt over every .nix file (treefmt).
      formatter = forAllSystems (pkgs: pkgs.nixfmt-tree);

      # `nix flake check`: no KVM needed.
      checks = forAllSystems (pkgs: import ./nix/checks.nix { inherit self pkgs; });

      # Checks that boot virtual machines and so need KVM, where `nix flake check`
      # does not look: nix build .#kvmChecks.virtual-machine-boot
      legacyPackages = forAllSystems (pkgs: {
        kvmChecks = import ./nix/kvm-checks.nix { inherit self pkgs; };
      });
    };
}
