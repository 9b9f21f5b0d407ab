import {
  DataTypes,
  Model,
  type CreationOptional,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from "sequelize";
import type { RoleName } from "../../auth/roles.js";
import type { Group } from "../groups/group.model.js";

/** A user's stored fields as a plain row, what presenting needs: everything but the password hash. */
export type UserFields = Omit<InferAttributes<User>, "passwordHash">;

/** A person who signs in: student, teacher or admin. */
export class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<string>;
  declare email: string;
  declare nickName: string;
  declare firstName: string;
  declare lastName: string;
  declare role: RoleName;
  declare groupId: ForeignKey<Group["id"]>;
  declare learningClass: CreationOptional<string>;
  declare passwordHash: string;
  declare rating: CreationOptional<number>;
  declare aboutText: CreationOptional<string>;
  declare socialLinks: CreationOptional<string[]>;
  declare techStack: CreationOptional<string[]>;
  declare avatarFile: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static initialise(sequelize: Sequelize): void {
    User.init(
      {
        id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
        email: { type: DataTypes.TEXT, allowNull: false },
        nickName: { type: DataTypes.TEXT, allowNull: false },
        firstName: { type: DataTypes.TEXT, allowNull: false },
        lastName: { type: DataTypes.TEXT, allowNull: false },
        role: { type: DataTypes.TEXT, allowNull: false },
        learningClass: { type: DataTypes.TEXT, allowNull: false, defaultValue: "" },
        passwordHash: { type: DataTypes.TEXT, allowNull: false },
        rating: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
        aboutText: { type: DataTypes.TEXT, allowNull: false, defaultValue: "" },
        socialLinks: { type: DataTypes.ARRAY(DataTypes.TEXT), allowNull: false, defaultValue: [] },
        techStack: { type: DataTypes.ARRAY(DataTypes.TEXT), allowNull: false, defaultValue: [] },
        avatarFile: { type: DataTypes.TEXT, allowNull: true },
        createdAt: DataTypes.DATE,
        updatedAt: DataTypes.DATE,
      },
      { sequelize, tableName: "users" },
    );
  }
}
