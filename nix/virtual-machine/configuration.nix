# NixOS for Amazon EC2 (Nitro on x86-64, Graviton on AArch64): what runs on the
# instance. How it becomes a disk image is ./image.nix, kept apart so either can
# change alone.
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:
let
  # One definition, shared with the KVM boot check and the release's smoke test.
  bootMarker = builtins.fromJSON (builtins.readFile ../boot-marker.json);
  # Amazon Time Sync Service, over IPv4 and IPv6 (Nitro).
  amazonTimeServers = [
    "169.254.169.123"
    "fd00:ec2::123"
  ];
in
{
  imports = [
    # The EC2 runtime: ext4 root labelled nixos that grows to the volume
    # (boot.growPartition, autoResize), NVMe in the initrd, the ENA driver,
    # console=ttyS0, serial-getty@ttyS0, the SSM agent, OpenSSH, amazon-ec2-utils
    # udev rules, and fetch-ec2-metadata, which installs the launch key pair.
    "${modulesPath}/virtualisation/amazon-image.nix"
    # No documentation, default packages or command-not-found.
    "${modulesPath}/profiles/minimal.nix"
  ];

  system.stateVersion = "26.05";

  # UEFI on both systems (EC2's default is legacy BIOS on x86-64): the ESP is
  # mounted at /boot and the image gets a GPT with an ESP.
  ec2.efi = true;
  boot.loader.systemd-boot = {
    enable = true;
    configurationLimit = 3;
    editor = false;
  };

  # Keys only: the launch key pair (from instance metadata) or SSM Session Manager.
  services.openssh.settings = {
    PasswordAuthentication = false;
    KbdInteractiveAuthentication = false;
    PermitRootLogin = "prohibit-password";
  };

  networking.timeServers = lib.mkForce amazonTimeServers;
  services.timesyncd.servers = amazonTimeServers;

  # NitroTPM (needs BootMode uefi and TpmSupport v2.0 at registration).
  security.tpm2.enable = true;

  # One line on the serial console once the instance is up: root mounted and
  # grown, network up, sshd and the SSM agent started. The KVM boot check waits
  # for it, and so does the release's smoke test (EC2 GetConsoleOutput).
  systemd.services.boot-marker = {
    description = "Print the nix-images boot marker on the serial console";
    wantedBy = [ "multi-user.target" ];
    wants = [ "network-online.target" ];
    after = [
      "network-online.target"
      "local-fs.target"
      "growpart.service"
      "systemd-growfs-root.service"
      "sshd.service"
      "amazon-ssm-agent.service"
    ];
    path = [ pkgs.coreutils ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      StandardOutput = "journal+console";
    };
    script = ''
      root=$(df --output=size --block-size=1 / | tail -n 1 | tr -d ' ')
      echo "${bootMarker} NixOS ${config.system.nixos.label} (${pkgs.stdenv.hostPlatform.system}), root file system $root bytes"
    '';
  };

  # User-data that is a #! script runs once at boot; anything else is ignored
  # with a log line. nixpkgs' amazon-init would copy other user-data over
  # /etc/nixos/configuration.nix and run nixos-rebuild against a channel this
  # image does not have, so its unit fails (on cloud-config, for example).
  virtualisation.amazon-init.enable = false;
  systemd.services.user-data = {
    description = "Run EC2 user-data that is a #! script";
    wantedBy = [ "multi-user.target" ];
    requires = [ "fetch-ec2-metadata.service" ];
    wants = [ "network-online.target" ];
    after = [
      "fetch-ec2-metadata.service"
      "network-online.target"
    ];
    # What a login shell has: the script may call anything installed.
    path = [
      "/run/wrappers"
      "/run/current-system/sw"
    ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      RuntimeDirectory = "user-data";
      RuntimeDirectoryMode = "0700";
      StandardOutput = "journal+console";
      StandardError = "journal+console";
    };
    script = ''
      exec ${pkgs.bash}/bin/bash ${./user-data.sh} /etc/ec2-metadata/user-data "$RUNTIME_DIRECTORY"
    '';
  };

  # Flakes pin their own nixpkgs: no channel in the image (hundreds of MiB).
  nix.channel.enable = false;
  nix.settings.experimental-features = [
    "nix-command"
    "flakes"
  ];
}
